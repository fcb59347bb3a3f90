/// A position in a parsed configuration file. Reading through a cursor checks types and records
/// every problem, with file and JSON pointer, in the shared sink.
struct JSONCursor: Sendable {
    let file: String
    let pointer: JSONPointer
    let value: JSONValue
    let sink: DiagnosticSink

    var location: SourceLocation { SourceLocation(file: file, pointer: pointer) }

    func error(_ message: String, hint: String? = nil) {
        sink.error(file, pointer, message, hint: hint)
    }

    func warning(_ message: String, hint: String? = nil) {
        sink.warning(file, pointer, message, hint: hint)
    }

    /// The member `key`; nil when it is absent or `null`.
    func child(_ key: String) -> JSONCursor? {
        guard let member = value[key], member != .null else { return nil }
        return JSONCursor(file: file, pointer: pointer / key, value: member, sink: sink)
    }

    func childOrReport(_ key: String, what: String) -> JSONCursor? {
        guard let member = child(key) else {
            error("missing required key \"\(key)\" (\(what))")
            return nil
        }
        return member
    }

    var members: [(key: String, cursor: JSONCursor)] {
        guard case let .object(members) = value else { return [] }
        return members.map { ($0.key, JSONCursor(file: file, pointer: pointer / $0.key, value: $0.value, sink: sink)) }
    }

    var elements: [JSONCursor] {
        guard case let .array(items) = value else { return [] }
        return items.enumerated().map { JSONCursor(file: file, pointer: pointer / $0.offset, value: $0.element, sink: sink) }
    }

    // MARK: Typed reads. Each reports a wrong type and returns nil.

    func expectObject(_ what: String) -> Bool {
        if case .object = value { return true }
        error("\(what) must be an object, found \(value.typeName)")
        return false
    }

    func expectArray(_ what: String) -> [JSONCursor]? {
        if case .array = value { return elements }
        error("\(what) must be an array, found \(value.typeName)")
        return nil
    }

    var stringValue: String? {
        if case let .string(text) = value { return text }
        error("expected a string, found \(value.typeName)")
        return nil
    }

    var boolValue: Bool? {
        if case let .bool(flag) = value { return flag }
        error("expected true or false, found \(value.typeName)")
        return nil
    }

    var intValue: Int? {
        if case let .number(number) = value, number.rounded() == number, abs(number) < 1e15 { return Int(number) }
        error("expected a whole number, found \(value.typeName)")
        return nil
    }

    /// A whole number written as a number or as a string of digits (the original mixes both for ids).
    var idValue: Int? {
        switch value {
        case let .number(number) where number.rounded() == number && number >= 0 && number < 1e15:
            return Int(number)
        case let .string(text) where !text.isEmpty && text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) && text.count <= 15:
            return Int(text)
        default:
            error("expected a guest id (a number such as 101 or a string of digits such as \"101\"), found \(describe)")
            return nil
        }
    }

    func string(_ key: String) -> String? { child(key)?.stringValue }
    func bool(_ key: String) -> Bool? { child(key)?.boolValue }
    func int(_ key: String) -> Int? { child(key)?.intValue }

    /// A short rendering of the value for messages; long or multi-line text is cut.
    var describe: String {
        switch value {
        case let .string(text):
            let escaped = text.unicodeScalars.map { $0.value < 0x20 ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
            return "\"" + (escaped.count > 60 ? escaped.prefix(57) + "..." : escaped) + "\""
        case let .number(number):
            return number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
        default:
            return value.typeName
        }
    }

    /// Warns about members that Phoenix does not know (they may be typos).
    func warnUnknownKeys(_ known: Set<String>, in what: @autoclosure () -> String) {
        guard case let .object(members) = value else { return }
        for member in members where !known.contains(member.key) {
            sink.warning(
                file, pointer / member.key, "unknown key \"\(member.key)\" in \(what()) (ignored)",
                hint: "check the spelling; keys that only guest creation reads are known")
        }
    }
}
