/// An IPv4 address, parsed strictly (four decimal octets, no leading zeros).
public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: some StringProtocol) { self.init(utf8: text.utf8) }

    init?(utf8 bytes: some Collection<UInt8>) {
        var result: UInt32 = 0
        var octets = 0
        var octet: UInt32 = 0
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                result = result << 8 | octet
                octets += 1
                (octet, digits) = (0, 0)
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), !(digits == 1 && octet == 0) else { return nil }  // no "01"
            octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
            digits += 1
            guard octet <= 255, digits <= 3 else { return nil }
        }
        guard octets == 3, digits > 0 else { return nil }
        value = result << 8 | octet
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 network in CIDR notation, such as `172.16.100.0/24`.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible {
    public let address: IPv4Address
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) { self.init(utf8: text.utf8) }

    init?<Bytes: Collection<UInt8>>(utf8 bytes: Bytes) {
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")), let address = IPv4Address(utf8: bytes[..<slash]) else { return nil }
        let digits = bytes[bytes.index(after: slash)...]
        guard (1...2).contains(digits.count), digits.allSatisfy(TextRules.isDigit) else { return nil }
        let length = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard length <= 32 else { return nil }
        self.address = address
        self.prefixLength = length
    }

    /// The first usable host address (`.1` of a `/24`).
    public var firstHost: IPv4Address {
        let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << (32 - prefixLength)
        return IPv4Address((address.value & mask) &+ (prefixLength >= 31 ? 0 : 1))
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// How a guest interface gets its address: `"dhcp"` or a static `address/prefix`.
public enum InterfaceAddress: Sendable, Hashable {
    case dhcp
    case manual(IPv4Address, prefixLength: Int?)

    public init?(_ text: String) {
        if text == "dhcp" {
            self = .dhcp
        } else if let network = IPv4Network(text) {
            self = .manual(network.address, prefixLength: network.prefixLength)
        } else if let address = IPv4Address(text) {
            self = .manual(address, prefixLength: nil)
        } else {
            return nil
        }
    }

    public var staticAddress: IPv4Address? {
        if case let .manual(address, _) = self { return address }
        return nil
    }
}

/// A DNS name: dot-separated labels of letters, digits and hyphens (lower-cased).
public struct DNSName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let text: String

    /// - Parameter allowWildcard: accept a leading `*.` label (certificate SANs).
    public init?(_ raw: String, allowWildcard: Bool = false) {
        var bytes = raw.utf8[...]
        guard !bytes.isEmpty, bytes.count <= 253 else { return nil }
        if allowWildcard, bytes.starts(with: "*.".utf8), bytes.count > 2 { bytes = bytes.dropFirst(2) }
        // One pass over the bytes: labels of 1-63 letters, digits and inner hyphens.
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        var hasUpperCase = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
                labelLength = 0
            } else {
                let lowered = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
                hasUpperCase = hasUpperCase || lowered != byte
                guard DNSName.isLabelByte(lowered), labelLength > 0 || byte != UInt8(ascii: "-") else { return nil }
                labelLength += 1
                guard labelLength <= 63 else { return nil }
            }
            previous = byte
        }
        guard labelLength > 0, previous != UInt8(ascii: "-") else { return nil }
        text = hasUpperCase ? String(decoding: raw.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }, as: UTF8.self) : raw
    }

    /// A name already known to be valid.
    private init(validated text: String) { self.text = text }

    static func isLabelByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-")
    }

    public var isWildcard: Bool { text.hasPrefix("*.") }
    public var description: String { text }
    public static func < (lhs: DNSName, rhs: DNSName) -> Bool { lhs.text < rhs.text }

    /// `self` followed by `.domain`.
    public func qualified(in domain: DNSName) -> DNSName? {
        // Both halves are valid names; only the total length can go wrong.
        guard text.utf8.count + 1 + domain.text.utf8.count <= 253 else { return nil }
        return DNSName(validated: "\(text).\(domain.text)")
    }
}

/// A TCP/UDP port number.
public struct Port: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let number: Int
    public init?(_ number: Int) {
        guard (1...65535).contains(number) else { return nil }
        self.number = number
    }
    public var description: String { String(number) }
    public static func < (lhs: Port, rhs: Port) -> Bool { lhs.number < rhs.number }
}

/// A listen address as in `:443`, `443` or `127.0.0.1:443`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: IPv4Address?
    public let port: Port

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            guard let number = Int(parts[0]), let port = Port(number) else { return nil }
            self.host = nil
            self.port = port
        case 2:
            guard let number = Int(parts[1]), let port = Port(number) else { return nil }
            if parts[0].isEmpty {
                self.host = nil
            } else {
                guard let host = IPv4Address(parts[0]) else { return nil }
                self.host = host
            }
            self.port = port
        default:
            return nil
        }
    }

    /// `host:port` or `:port`, the form Traefik uses.
    public var traefikForm: String { "\(host.map(String.init(describing:)) ?? ""):\(port)" }
    /// `host:port` or `port`, the form NGINX uses.
    public var nginxForm: String { host.map { "\($0):\(port)" } ?? port.description }
    public var description: String { traefikForm }
}

/// Text checks shared by the loader.
public enum TextRules {
    /// True when the text has no control characters (newline, tab, NUL, …).
    public static func isSingleLine(_ text: String) -> Bool {
        !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// An environment or compose variable name: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isVariableName(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || isDigit($0) }
    }

    /// A Docker/Traefik label key: letters, digits, `.`, `-`, `_`, `/`.
    public static func isLabelKey(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
                    || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "/")
            }
    }

    /// An absolute path of letters, digits and `/ . _ - + @`, without `..` segments. Paths are written
    /// verbatim into nginx and dnsmasq files, so spaces, `;`, quotes, braces and `$` are refused.
    public static func isAbsolutePath(_ text: String) -> Bool {
        text.hasPrefix("/") && !text.split(separator: "/").contains("..")
            && text.utf8.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "@")
            }
    }

    /// A POSIX user or group name.
    public static func isAccountName(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z"))
        else { return false }
        return text.utf8.count <= 32
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || isDigit($0) || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-")
            }
    }

    /// A network interface name as Linux accepts it (at most 15 bytes).
    public static func isInterfaceName(_ text: String) -> Bool {
        (1...15).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            }
    }

    public static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    public static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `text` with control characters escaped (`\u{1b}`) and cut to `limit` characters: for quoting
    /// file contents and command output in messages, where they must not drive a terminal.
    public static func printable(_ text: String, limit: Int = 160) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if result.unicodeScalars.count >= limit {
                result += "..."
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmingBlanks(_ text: Substring) -> Substring {
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = text.utf8.firstIndex(where: { !isBlank($0) }), let last = text.utf8.lastIndex(where: { !isBlank($0) }) else {
            return text[text.endIndex...]
        }
        return text[first...last]
    }
}
