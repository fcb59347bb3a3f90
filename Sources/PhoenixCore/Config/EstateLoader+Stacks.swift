import Foundation

extension EstateLoader {
    /// `phoenix_stacks_config.json` (newest layout): `{"docker_stacks": {"<stack>": {...}}}`.
    func loadStacksConfig(_ root: JSONCursor) -> [Stack] {
        guard root.expectObject("the stacks configuration") else { return [] }
        root.warnUnknownKeys(["$schema", "docker_stacks"], in: "the stacks configuration")
        guard let stacks = root.childOrReport("docker_stacks", what: "an object of stacks keyed by name"),
            stacks.expectObject("docker_stacks")
        else { return [] }
        return stacks.members.compactMap { name, entry in loadStack(name: name, entry) }
    }

    /// One stack's metadata; the same shape in `phoenix_stacks_config.json` and legacy `phoenix.json`.
    func loadStack(name: String, _ entry: JSONCursor) -> Stack? {
        guard Self.isStackName(name) else {
            entry.error("\"\(name)\" is not a stack name", hint: "stack names use letters, digits, '_' and '-'")
            return nil
        }
        guard entry.expectObject("stack \(name)") else { return nil }
        entry.warnUnknownKeys(["description", "compose_file_path", "nginx_proxy", "environments"], in: "stack \(name)")
        var stack = Stack(
            name: name, description: entry.string("description"), environments: [], compose: nil, proxyHostnames: [],
            location: entry.location)
        if let proxy = entry.child("nginx_proxy"), proxy.expectObject("nginx_proxy"),
            let cursor = proxy.child("hostname"), let text = cursor.stringValue
        {
            if let host = DNSName(text), !host.isWildcard {
                stack.proxyHostnames.append(Located(host, cursor.location))
            } else {
                cursor.error("\(cursor.describe) is not a valid host name")
            }
        }
        if let environments = entry.child("environments"), environments.expectObject("environments") {
            stack.environments = environments.members.compactMap { envName, envCursor in
                loadEnvironment(name: envName, envCursor)
            }
        }
        return stack
    }

    private func loadEnvironment(name: String, _ cursor: JSONCursor) -> StackEnvironment? {
        guard Self.isStackName(name) else {
            cursor.error("\"\(name)\" is not an environment name", hint: "use letters, digits, '_' and '-'")
            return nil
        }
        guard cursor.expectObject("environment \(name)") else { return nil }
        cursor.warnUnknownKeys(["variables", "files", "services", "firewall_rules"], in: "environment \(name)")
        var environment = StackEnvironment(name: name, variables: [], services: [], location: cursor.location)
        if let variables = cursor.child("variables")?.expectArray("variables") {
            var seen = Set<String>()
            for variable in variables where variable.expectObject("a variable") {
                variable.warnUnknownKeys(["name", "value", "secret"], in: "a variable")
                guard let nameCursor = variable.childOrReport("name", what: "the variable name"), let varName = nameCursor.stringValue
                else { continue }
                guard TextRules.isVariableName(varName) else {
                    nameCursor.error("\(nameCursor.describe) is not a variable name", hint: "use letters, digits and '_', not starting with a digit")
                    continue
                }
                guard let valueCursor = variable.childOrReport("value", what: "the value substituted for ${\(varName)}") else { continue }
                let value: String
                switch valueCursor.value {
                case let .string(text): value = text
                case let .number(number): value = number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
                case let .bool(flag): value = String(flag)
                default:
                    valueCursor.error("expected a string, found \(valueCursor.value.typeName)")
                    continue
                }
                if !seen.insert(varName).inserted {
                    nameCursor.warning("variable \(varName) is defined twice; the last value wins")
                }
                environment.variables.append(StackVariable(name: varName, value: value, location: valueCursor.location))
            }
        }
        if let files = cursor.child("files")?.expectArray("files") {
            for file in files where file.expectObject("a file") {
                file.warnUnknownKeys(["source", "destination_in_container"], in: "a file")
            }
        }
        if let rules = cursor.child("firewall_rules")?.expectArray("firewall_rules") {
            // The original never applied these; they are still checked so a typo is not silently kept.
            _ = rules.compactMap(loadFirewallRule)
        }
        if let services = cursor.child("services"), services.expectObject("services") {
            environment.services = services.members.compactMap { serviceName, serviceCursor in
                guard Self.isComposeServiceName(serviceName) else {
                    serviceCursor.error("\"\(serviceName)\" is not a compose service name")
                    return nil
                }
                guard serviceCursor.expectObject("service \(serviceName)") else { return nil }
                serviceCursor.warnUnknownKeys(["traefik_labels"], in: "service \(serviceName)")
                let labels = serviceCursor.child("traefik_labels")?.expectArray("traefik_labels")?.compactMap(loadLabel) ?? []
                return StackService(name: serviceName, labels: labels)
            }
        }
        return environment
    }

    private func loadLabel(_ cursor: JSONCursor) -> TraefikLabel? {
        guard let text = cursor.stringValue else { return nil }
        guard let equals = text.firstIndex(of: "=") else {
            cursor.error("\(cursor.describe) is not a label", hint: "write key=value")
            return nil
        }
        let key = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        guard TextRules.isLabelKey(key) else {
            cursor.error("label key \"\(key)\" is not valid", hint: "label keys use letters, digits, '.', '-', '_' and '/'")
            return nil
        }
        guard TextRules.isSingleLine(value) else {
            cursor.error("the value of label \(key) must be a single line")
            return nil
        }
        var hosts: [Located<DNSName>] = []
        let lowerKey = key.lowercased()
        if lowerKey.hasPrefix("traefik.http.routers.") && lowerKey.hasSuffix(".rule") {
            for host in Self.hostsInRule(value) {
                if let name = DNSName(host), !name.isWildcard {
                    hosts.append(Located(name, cursor.location))
                } else {
                    cursor.error("\"\(host)\" in the Host rule of \(key) is not a valid host name")
                }
            }
        }
        return TraefikLabel(key: key, value: value, hosts: hosts, location: cursor.location)
    }

    /// Compose service names: letters, digits, '.', '_' and '-'.
    static func isComposeServiceName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    /// The back-quoted names inside every `Host(...)` of a Traefik rule.
    static func hostsInRule(_ rule: String) -> [String] {
        var hosts: [String] = []
        var rest = Substring(rule)
        while let start = rest.range(of: "Host(") {
            rest = rest[start.upperBound...]
            let close = rest.firstIndex(of: ")") ?? rest.endIndex
            let inside = rest[..<close]
            let parts = inside.split(separator: "`", omittingEmptySubsequences: false)
            for (index, part) in parts.enumerated() where index % 2 == 1 {
                hosts.append(String(part))
            }
            rest = rest[close...]
        }
        return hosts
    }

    /// Attaches compose files from `stacks/<name>/` and reads legacy `phoenix.json` manifests.
    func mergeStackDirectories(
        _ directories: [ConfigSources.StackDirectory], into stacks: [Stack], configNames: Set<String>, sink: DiagnosticSink
    ) -> [Stack] {
        var byName = Dictionary(uniqueKeysWithValues: stacks.map { ($0.name, $0) })
        for directory in directories {
            if let manifest = directory.manifest {
                if configNames.contains(directory.name) {
                    sink.warning(
                        manifest.name, .root,
                        "stack \(directory.name) is also defined in \(ConfigSources.FileName.stacksConfig); this phoenix.json is ignored")
                } else if let root = parse(manifest, sink: sink), let stack = loadStack(name: directory.name, root) {
                    byName[directory.name] = stack
                }
            }
            guard let compose = directory.compose else { continue }
            guard let text = String(validating: compose.bytes, as: UTF8.self) else {
                sink.error(compose.name, .root, "the compose file is not valid UTF-8")
                continue
            }
            var stack =
                byName[directory.name]
                ?? Stack(
                    name: directory.name, description: nil, environments: [], compose: nil, proxyHostnames: [],
                    location: SourceLocation(file: compose.name, pointer: .root))
            stack.compose = Located(text, SourceLocation(file: compose.name, pointer: .root))
            byName[directory.name] = stack
        }
        return Array(byName.values)
    }
}
