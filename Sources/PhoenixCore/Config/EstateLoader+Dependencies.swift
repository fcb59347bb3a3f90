extension EstateLoader {
    /// A dependency is a guest id (`"103"` or `103`), or an object:
    /// `{"id": "103", "optional": true, "when": {"verbs": ["start"], "setting": "/dns_server/enabled", "equals": true}}`.
    func loadDependency(_ cursor: JSONCursor) -> Dependency? {
        switch cursor.value {
        case .string, .number:
            guard let id = cursor.idValue else { return nil }
            return Dependency(target: id, optional: false, condition: nil, location: cursor.location)
        case .object:
            cursor.warnUnknownKeys(["id", "optional", "when", "comment"], in: "a dependency")
            guard let idCursor = cursor.childOrReport("id", what: "the guest this one depends on"), let id = idCursor.idValue
            else { return nil }
            var condition: DependencyCondition?
            if let when = cursor.child("when") {
                condition = loadCondition(when)
                if condition == nil { return nil }
            }
            return Dependency(target: id, optional: cursor.bool("optional") ?? false, condition: condition, location: cursor.location)
        default:
            cursor.error(
                "a dependency must be a guest id or an object, found \(cursor.value.typeName)",
                hint: "write \"103\" or {\"id\": \"103\", \"optional\": true}")
            return nil
        }
    }

    private func loadCondition(_ cursor: JSONCursor) -> DependencyCondition? {
        guard cursor.expectObject("when") else { return nil }
        cursor.warnUnknownKeys(["verbs", "setting", "equals"], in: "when")
        var condition = DependencyCondition(verbs: nil, setting: nil, equals: .bool(true))
        var valid = true
        if let verbs = cursor.child("verbs")?.expectArray("when.verbs") {
            var set = Set<GraphVerb>()
            for verb in verbs {
                guard let text = verb.stringValue else {
                    valid = false
                    continue
                }
                if let parsed = GraphVerb(rawValue: text) {
                    set.insert(parsed)
                } else {
                    verb.error("\(verb.describe) is not a verb", hint: "use create, start or stop")
                    valid = false
                }
            }
            condition.verbs = set
        }
        if let setting = cursor.child("setting"), let text = setting.stringValue {
            if let pointer = JSONPointer(parsing: text), !pointer.tokens.isEmpty {
                condition.setting = pointer
            } else {
                setting.error(
                    "\(setting.describe) is not a JSON pointer",
                    hint: "point into phoenix_hypervisor_config.json, e.g. \"/dns_server/enabled\"")
                valid = false
            }
        }
        if let equals = cursor.child("equals") {
            condition.equals = equals.value
        }
        if condition.verbs == nil && condition.setting == nil {
            cursor.error("a condition needs \"verbs\", \"setting\" or both")
            valid = false
        }
        return valid ? condition : nil
    }
}
