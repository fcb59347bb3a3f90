/// A firewall rule as the Proxmox API lists and takes it.
public struct APIRule: Sendable, Equatable {
    public var type: String
    public var action: String
    public var enable: Bool
    public var proto: String?
    public var dport: String?
    public var sport: String?
    public var source: String?
    public var dest: String?
    public var iface: String?
    public var log: String?
    public var comment: String?

    /// The comment prefix of rules phoenix manages; a rule without it is someone else's and stays.
    public static let marker = "[phoenix]"

    public init(_ rule: FirewallRule) {
        type = rule.direction.rawValue.lowercased()
        action = rule.action.rawValue
        enable = rule.enabled
        proto = rule.proto
        dport = rule.dport
        sport = rule.sport
        source = rule.source
        dest = rule.dest
        iface = rule.iface
        log = rule.log
        comment = [Self.marker, rule.comment].compactMap { $0 }.joined(separator: " ")
    }

    /// A rule from `GET …/firewall/rules`.
    public init?(json: JSONValue) {
        guard case let .string(type)? = json["type"], case let .string(action)? = json["action"] else { return nil }
        func text(_ key: String) -> String? { if case let .string(value)? = json[key], !value.isEmpty { value } else { nil } }
        self.type = type.lowercased()
        self.action = action.uppercased()
        enable =
            switch json["enable"] {
            case .number(0)?, .bool(false)?: false;
            default: true
            }
        proto = text("proto")
        dport = text("dport")
        sport = text("sport")
        source = text("source")
        dest = text("dest")
        iface = text("iface")
        log = text("log").flatMap { $0 == "nolog" ? nil : $0 }
        comment = text("comment")
    }

    public var isManaged: Bool { comment?.hasPrefix(Self.marker) ?? false }

    /// The parameters of `POST …/firewall/rules`.
    public var parameters: [(String, String)] {
        var parameters = [("type", type), ("action", action), ("enable", enable ? "1" : "0")]
        for (key, value) in [
            ("proto", proto), ("dport", dport), ("sport", sport), ("source", source), ("dest", dest), ("iface", iface), ("log", log), ("comment", comment),
        ] {
            if let value { parameters.append((key, value)) }
        }
        return parameters
    }

    /// `IN ACCEPT -p tcp -dport 22 # [phoenix] SSH`, for plans.
    public var text: String {
        var parts = [(enable ? "" : "|") + type.uppercased(), action]
        for (option, value) in [("-i", iface), ("-source", source), ("-dest", dest), ("-p", proto), ("-dport", dport), ("-sport", sport), ("-log", log)] {
            if let value { parts += [option, value] }
        }
        return parts.joined(separator: " ") + (comment.map { " # \($0)" } ?? "")
    }
}

/// One edit of a firewall rule list, in the order it is to be sent.
public enum FirewallEdit: Sendable, Equatable {
    case delete(position: Int, rule: APIRule)
    case insert(position: Int, rule: APIRule)
}

public enum FirewallAPIPlan {
    /// The smallest edit that makes phoenix's rules in `actual` read `desired`, in order, without
    /// touching rules phoenix does not manage: the longest run of phoenix's rules that already match
    /// stays; the others are deleted (from the bottom, so positions hold) and the missing ones
    /// inserted after the rule they follow.
    public static func edits(actual: [APIRule], desired: [APIRule]) -> [FirewallEdit] {
        let managed = actual.indices.filter { actual[$0].isManaged }
        let kept = longestCommonSubsequence(managed.map { actual[$0] }, desired)
        var edits: [FirewallEdit] = []
        var list = actual.map { Optional($0) }
        // Which actual positions stay, and which desired entries they stand for.
        var keptActual = Set<Int>()
        var desiredAt: [Int: Int] = [:]  // desired index → current position
        for (managedIndex, desiredIndex) in kept {
            keptActual.insert(managed[managedIndex])
            desiredAt[desiredIndex] = managed[managedIndex]
        }
        for position in managed.reversed() where !keptActual.contains(position) {
            edits.append(.delete(position: position, rule: actual[position]))
            list.remove(at: position)
            for (key, value) in desiredAt where value > position { desiredAt[key] = value - 1 }
        }
        for (index, rule) in desired.enumerated() where desiredAt[index] == nil {
            // After the previous desired rule; the first goes before the first kept one, else at the end.
            let position: Int
            if let previous = (0..<index).reversed().compactMap({ desiredAt[$0] }).first {
                position = previous + 1
            } else if let next = ((index + 1)..<desired.count).compactMap({ desiredAt[$0] }).min() {
                position = next
            } else {
                position = list.count
            }
            edits.append(.insert(position: position, rule: rule))
            list.insert(rule, at: position)
            for (key, value) in desiredAt where value >= position { desiredAt[key] = value + 1 }
            desiredAt[index] = position
        }
        return edits
    }

    /// Index pairs (into `a`, into `b`) of a longest common subsequence.
    static func longestCommonSubsequence(_ a: [APIRule], _ b: [APIRule]) -> [(Int, Int)] {
        guard !a.isEmpty, !b.isEmpty else { return [] }
        var lengths = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lengths[i][j] = a[i] == b[j] ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
            }
        }
        var pairs: [(Int, Int)] = []
        var (i, j) = (0, 0)
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                pairs.append((i, j))
                i += 1
                j += 1
            } else if lengths[i + 1][j] >= lengths[i][j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return pairs
    }
}
