/// Writes JSON text from a `JSONValue`: members in their given order (or sorted), two-space indent,
/// `/` and non-ASCII text unescaped. Deterministic, so rendered reports are byte-identical.
public struct JSONWriter: Sendable {
    public var sortedKeys: Bool
    public var pretty: Bool

    public init(sortedKeys: Bool = true, pretty: Bool = true) {
        self.sortedKeys = sortedKeys
        self.pretty = pretty
    }

    public func string(_ value: JSONValue) -> String {
        var text = ""
        write(value, depth: 0, into: &text)
        return text
    }

    private func write(_ value: JSONValue, depth: Int, into text: inout String) {
        switch value {
        case .null: text += "null"
        case let .bool(flag): text += flag ? "true" : "false"
        case let .number(number): text += Self.number(number)
        case let .string(string): Self.quote(string, into: &text)
        case let .array(items):
            guard !items.isEmpty else { return text += "[]" }
            text += "["
            for (position, item) in items.enumerated() {
                if position > 0 { text += "," }
                newline(depth + 1, into: &text)
                write(item, depth: depth + 1, into: &text)
            }
            newline(depth, into: &text)
            text += "]"
        case let .object(members):
            guard !members.isEmpty else { return text += "{}" }
            text += "{"
            let ordered = sortedKeys ? members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } : members
            for (position, member) in ordered.enumerated() {
                if position > 0 { text += "," }
                newline(depth + 1, into: &text)
                Self.quote(member.key, into: &text)
                text += pretty ? ": " : ":"
                write(member.value, depth: depth + 1, into: &text)
            }
            newline(depth, into: &text)
            text += "}"
        }
    }

    private func newline(_ depth: Int, into text: inout String) {
        guard pretty else { return }
        text += "\n"
        text += String(repeating: "  ", count: depth)
    }

    public static func number(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number.rounded() == number && abs(number) < 1e15 { return String(Int(number)) }
        return String(number)
    }

    static func quote(_ string: String, into text: inout String) {
        text += "\""
        var plainStart = string.utf8.startIndex
        for index in string.utf8.indices {
            let byte = string.utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            text += string[plainStart..<index]
            switch byte {
            case UInt8(ascii: "\""): text += "\\\""
            case UInt8(ascii: "\\"): text += "\\\\"
            case 0x0A: text += "\\n"
            case 0x0D: text += "\\r"
            case 0x09: text += "\\t"
            default:
                let hex = String(byte, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
            plainStart = string.utf8.index(after: index)
        }
        text += string[plainStart...]
        text += "\""
    }
}
