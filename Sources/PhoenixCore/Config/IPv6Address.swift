/// An IPv6 address, parsed by hand from the text forms of RFC 4291 (hex groups, one `::`, a
/// trailing dotted IPv4 part; no zone, no brackets) and written in the one canonical form of
/// RFC 5952 (lowercase, no leading zeros, the longest run of zero groups as `::`), so two ways of
/// writing one address compare equal.
public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The first and the last 64 bits, in network order.
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The 16 bytes of the address in network order (nil for any other count).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let values = Array(bytes)
        high = values[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = values[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public init?(_ text: some StringProtocol) { self.init(utf8: Array(text.utf8)) }

    init?(utf8 bytes: [UInt8]) {
        let colon = UInt8(ascii: ":")
        // The longest form, "ffff:…:255.255.255.255", is 45 characters.
        guard !bytes.isEmpty, bytes.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        var index = 0
        if bytes.starts(with: [colon, colon]) {
            compressed = true
            index = 2
        } else if bytes[0] == colon {
            return nil
        }
        while index < bytes.count {
            let start = index
            while index < bytes.count && bytes[index] != colon { index += 1 }
            let field = bytes[start..<index]
            var groups: [UInt16]
            if field.contains(UInt8(ascii: ".")) {
                // Dotted IPv4 only as the last two groups.
                guard index == bytes.count, let v4 = IPv4Address(utf8: field) else { return nil }
                groups = [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
            } else {
                guard let group = Self.group(field) else { return nil }
                groups = [group]
            }
            if compressed { tail += groups } else { head += groups }
            guard index < bytes.count else { break }
            index += 1
            guard index < bytes.count else { return nil }  // a trailing single ":"
            if bytes[index] == colon {
                guard !compressed else { return nil }  // a second "::"
                compressed = true
                index += 1
            }
        }
        let count = head.count + tail.count
        // "::" stands for at least one zero group.
        guard compressed ? count <= 7 : count == 8 else { return nil }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        high = groups[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = groups[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// One to four hex digits, either case.
    private static func group(_ field: ArraySlice<UInt8>) -> UInt16? {
        guard (1...4).contains(field.count) else { return nil }
        var value: UInt16 = 0
        for byte in field {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// The eight 16-bit groups.
    public var groups: [UInt16] {
        (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// `::ffff:a.b.c.d`: the IPv4 address an IPv4-mapped address carries.
    public var mappedIPv4: IPv4Address? {
        guard high == 0, low >> 32 == 0xFFFF else { return nil }
        return IPv4Address(UInt32(truncatingIfNeeded: low))
    }

    /// RFC 5952: lowercase hex without leading zeros, the longest run of two or more zero groups
    /// (the first of equal runs) as `::`; an IPv4-mapped address as `::ffff:a.b.c.d`.
    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:\(v4)" }
        let groups = groups
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (index, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (index, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let before = hex[..<best.start].joined(separator: ":")
        let after = hex[(best.start + best.length)...].joined(separator: ":")
        return before + "::" + after
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }
}

/// An IP address of either family, as a certificate's IP SANs hold them: an IPv4-mapped IPv6
/// address (`::ffff:10.0.0.5`) is the IPv4 address it maps (X.509 encoders write it as four bytes).
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Dotted IPv4, or any RFC 4291 text form of IPv6.
    public init?(_ text: some StringProtocol) {
        if let address = IPv4Address(text) {
            self = .v4(address)
        } else if let address = IPv6Address(text) {
            self.init(address)
        } else {
            return nil
        }
    }

    /// An address as a certificate encodes it: 4 or 16 bytes in network order.
    public init?(bytes: some Collection<UInt8>) {
        if bytes.count == 4 {
            self = .v4(IPv4Address(bytes.reduce(0) { $0 << 8 | UInt32($1) }))
        } else if let address = IPv6Address(bytes: bytes) {
            self.init(address)
        } else {
            return nil
        }
    }

    init(_ address: IPv6Address) {
        self = address.mappedIPv4.map(IPAddress.v4) ?? .v6(address)
    }

    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public var bytes: [UInt8] {
        switch self {
        case let .v4(address): return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: address.value >> UInt32($0)) }
        case let .v6(address): return address.bytes
        }
    }

    public var description: String {
        switch self {
        case let .v4(address): return address.description
        case let .v6(address): return address.description
        }
    }

    /// IPv4 before IPv6, each by value.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case let (.v4(a), .v4(b)): return a < b
        case let (.v6(a), .v6(b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}
