import Foundation

extension EstateLoader {
    static let protocols: Set<String> = [
        "tcp", "udp", "icmp", "icmpv6", "ipv6-icmp", "udplite", "sctp", "esp", "ah", "gre", "igmp", "ipv6", "ospf", "vrrp",
    ]
    static let ruleKeys: Set<String> = [
        "type", "action", "proto", "source", "dest", "port", "dport", "sport", "iface", "log", "comment", "enable", "enabled",
    ]
    static let logLevels: Set<String> = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"]

    /// A rule object `{type, action, proto?, source?, dest?, port?, sport?, iface?, log?, comment?, enable?}`.
    func loadFirewallRule(_ cursor: JSONCursor) -> FirewallRule? {
        guard cursor.expectObject("a firewall rule") else { return nil }
        cursor.warnUnknownKeys(Self.ruleKeys, in: "a firewall rule")
        var valid = true
        func invalid(_ field: JSONCursor, _ message: String, hint: String? = nil) {
            field.error(message, hint: hint)
            valid = false
        }

        var direction = FirewallRule.Direction.in
        if let field = cursor.childOrReport("type", what: "in or out"), let text = field.stringValue {
            if let parsed = FirewallRule.Direction(rawValue: text.uppercased()) {
                direction = parsed
            } else {
                invalid(field, "\(field.describe) is not a rule direction", hint: "use \"in\" or \"out\"")
            }
        } else {
            valid = false
        }
        var action = FirewallRule.Action.accept
        if let field = cursor.childOrReport("action", what: "ACCEPT, DROP or REJECT"), let text = field.stringValue {
            if let parsed = FirewallRule.Action(rawValue: text.uppercased()) {
                action = parsed
            } else {
                invalid(field, "\(field.describe) is not a rule action", hint: "use ACCEPT, DROP or REJECT")
            }
        } else {
            valid = false
        }

        var rule = FirewallRule(direction: direction, action: action, enabled: true, location: cursor.location)
        if let field = cursor.child("proto"), let text = field.stringValue {
            let lowered = text.lowercased()
            if Self.protocols.contains(lowered) || (Int(lowered).map { (0...255).contains($0) } ?? false) {
                rule.proto = lowered
            } else {
                invalid(field, "\(field.describe) is not a protocol", hint: "use tcp, udp, icmp or another IP protocol name")
            }
        }
        for (key, keyPath) in [("port", \FirewallRule.dport), ("dport", \FirewallRule.dport), ("sport", \FirewallRule.sport)] {
            guard let field = cursor.child(key) else { continue }
            let text: String?
            if case let .number(number) = field.value, number.rounded() == number { text = String(Int(number)) } else { text = field.stringValue }
            guard let text else {
                valid = false
                continue
            }
            if let ports = Self.portList(text) {
                rule[keyPath: keyPath] = ports
            } else {
                invalid(field, "\(field.describe) is not a port list", hint: "write a port (80), a list (80,443) or a range (8000:8010)")
            }
        }
        if rule.dport != nil || rule.sport != nil, !["tcp", "udp", "udplite", "sctp"].contains(rule.proto ?? "") {
            invalid(cursor, "a rule with a port needs \"proto\": \"tcp\" or \"udp\"", hint: "pve-firewall rejects -dport without -p")
        }
        for (key, keyPath) in [("source", \FirewallRule.source), ("dest", \FirewallRule.dest)] {
            guard let field = cursor.child(key), let text = field.stringValue else { continue }
            if Self.isFirewallAddress(text) {
                rule[keyPath: keyPath] = text
            } else {
                invalid(field, "\(field.describe) is not a firewall address", hint: "use an IPv4 address, a CIDR, a range a-b, a list a,b, an alias or +ipset")
            }
        }
        if let field = cursor.child("iface"), let text = field.stringValue {
            if TextRules.isInterfaceName(text) {
                rule.iface = text
            } else {
                invalid(field, "\(field.describe) is not an interface name", hint: "at most 15 letters, digits, '.', '-' or '_'")
            }
        }
        if let field = cursor.child("log"), let text = field.stringValue {
            if Self.logLevels.contains(text) {
                rule.log = text
            } else {
                invalid(field, "\(field.describe) is not a log level", hint: "use one of \(Self.logLevels.sorted().joined(separator: ", "))")
            }
        }
        if let field = cursor.child("comment"), let text = field.stringValue {
            if TextRules.isSingleLine(text) {
                rule.comment = text
            } else {
                invalid(field, "a rule comment must be a single line", hint: "remove the newline or control character")
            }
        }
        if let field = cursor.child("enable") ?? cursor.child("enabled") {
            switch field.value {
            case let .bool(flag): rule.enabled = flag
            case let .number(number) where number == 0 || number == 1: rule.enabled = number == 1
            default: invalid(field, "expected true or false, found \(field.value.typeName)")
            }
        }
        return valid ? rule : nil
    }

    /// `80`, `80,443`, `8000:8010`, or service names such as `ssh`; nothing else. Spaces around
    /// the items are dropped (`80, 443` becomes `80,443`).
    static func portList(_ text: String) -> String? {
        let bytes = text.utf8
        var items: [Substring] = []
        var itemStart = bytes.startIndex
        while true {
            let itemEnd = bytes[itemStart...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            let item = TextRules.trimmingBlanks(Substring(bytes[itemStart..<itemEnd]))
            let bounds = item.utf8
            if let colon = bounds.firstIndex(of: UInt8(ascii: ":")) {
                guard isPortOrServiceName(bounds[..<colon]), isPortOrServiceName(bounds[bounds.index(after: colon)...]) else { return nil }
            } else {
                guard isPortOrServiceName(bounds[...]) else { return nil }
            }
            items.append(item)
            guard itemEnd != bytes.endIndex else { break }
            itemStart = bytes.index(after: itemEnd)
        }
        let trimmedLength = items.reduce(items.count - 1) { $0 + $1.utf8.count }
        return trimmedLength == bytes.count ? text : items.joined(separator: ",")
    }

    /// A port number (1-65535) or a service name (`ssh`, `http-alt`).
    private static func isPortOrServiceName(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        guard let first = bytes.first else { return false }
        if TextRules.isDigit(first) {
            guard bytes.count <= 5, bytes.allSatisfy(TextRules.isDigit) else { return false }
            return Port(bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }) != nil
        }
        return TextRules.isLetter(first) && bytes.allSatisfy { TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    static func isFirewallAddress(_ text: String) -> Bool {
        if text.hasPrefix("+") || TextRules.isLetter(text.utf8.first ?? 0) {
            let name = text.hasPrefix("+") ? text.dropFirst() : Substring(text)
            let body = name.hasPrefix("dc/") || name.hasPrefix("guest/") ? name.drop(while: { $0 != "/" }).dropFirst() : name
            guard let first = body.utf8.first, TextRules.isLetter(first) else { return false }
            return body.utf8.allSatisfy { TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        }
        return text.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).allSatisfy { item in
            if IPv4Address(utf8: item) != nil || IPv4Network(utf8: item) != nil { return true }
            guard let dash = item.firstIndex(of: UInt8(ascii: "-")) else { return false }
            return IPv4Address(utf8: item[..<dash]) != nil && IPv4Address(utf8: item[item.index(after: dash)...]) != nil
        }
    }
}
