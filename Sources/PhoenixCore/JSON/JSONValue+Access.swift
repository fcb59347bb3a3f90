/// Typed reads of API answers (Docker, Proxmox): nil when the member is absent or of another type.
extension JSONValue {
    public var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    public var intValue: Int? {
        if case let .number(number) = self, number == number.rounded(), abs(number) < 1e15 { return Int(number) }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(flag) = self { return flag }
        return nil
    }

    /// The items of an array (empty for anything else).
    public var arrayItems: [JSONValue] {
        if case let .array(items) = self { return items }
        return []
    }

    /// The members of an object (empty for anything else).
    public var objectMembers: [(key: String, value: JSONValue)] {
        if case let .object(members) = self { return members }
        return []
    }

    /// An object of strings (`Labels`) as a dictionary.
    public var stringMap: [String: String] {
        Dictionary(objectMembers.compactMap { member in member.value.stringValue.map { (member.key, $0) } }, uniquingKeysWith: { $1 })
    }

    /// This object with `key` set to `value` (replaced where it is, else appended).
    public func with(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        guard members.contains(where: { $0.key == key }) else { return .object(members + [(key: key, value: value)]) }
        return .object(members.map { $0.key == key ? (key: key, value: value) : $0 })
    }
}

extension JSONValue {
    /// This object with one more member.
    public func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        return .object(members + [(key: key, value: value)])
    }

    /// This object with `key` set to `value` (replaced where it is, else added).
    public func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        guard members.contains(where: { $0.key == key }) else { return adding(key, value) }
        return .object(members.map { $0.key == key ? (key: key, value: value) : $0 })
    }

    public var numberValue: Double? {
        if case let .number(number) = self { return number }
        return nil
    }
}
