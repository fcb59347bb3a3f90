import Foundation

/// An RFC 6901 JSON pointer such as `/lxc_configs/101/network_config/ip`.
public struct JSONPointer: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The pointer is a chain from its last token back to the root: appending a token (done for
    /// every value the loader reads) allocates one link instead of copying every token.
    private final class Link: Sendable {
        let parent: Link?
        let token: String
        init(parent: Link?, token: String) {
            self.parent = parent
            self.token = token
        }
    }

    private let last: Link?

    private init(last: Link?) { self.last = last }

    public init(_ tokens: [String] = []) {
        last = tokens.reduce(nil) { Link(parent: $0, token: $1) }
    }

    /// The reference tokens, root first.
    public var tokens: [String] {
        var result: [String] = []
        var link = last
        while let current = link {
            result.append(current.token)
            link = current.parent
        }
        return result.reversed()
    }

    /// Parses the textual form (`""` is the whole document; otherwise it starts with `/`).
    public init?(parsing text: String) {
        if text.isEmpty {
            self.init()
            return
        }
        guard text.hasPrefix("/") else { return nil }
        self.init(
            text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            })
    }

    public static let root = JSONPointer()

    public func appending(_ token: String) -> JSONPointer {
        JSONPointer(last: Link(parent: last, token: token))
    }

    public func appending(_ index: Int) -> JSONPointer {
        appending(String(index))
    }

    public static func / (lhs: JSONPointer, rhs: String) -> JSONPointer { lhs.appending(rhs) }
    public static func / (lhs: JSONPointer, rhs: Int) -> JSONPointer { lhs.appending(rhs) }

    public var description: String {
        tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }
            .joined()
    }

    public static func == (lhs: JSONPointer, rhs: JSONPointer) -> Bool {
        var (left, right) = (lhs.last, rhs.last)
        while let l = left, let r = right {
            if l === r { return true }  // a shared prefix
            guard l.token == r.token else { return false }
            (left, right) = (l.parent, r.parent)
        }
        return left == nil && right == nil
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tokens)
    }

    public static func < (lhs: JSONPointer, rhs: JSONPointer) -> Bool {
        lhs.tokens.lexicographicallyPrecedes(rhs.tokens)
    }
}
