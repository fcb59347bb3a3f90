import PhoenixCore
import Yams

extension FakeDockerEngine {
    /// `docker stack deploy` into this daemon, as the CLI does it: refused (nothing changed) when the
    /// daemon is not a manager or an external network or secret is missing; else the stack's own
    /// networks made, each service created or updated when its spec changed (its tasks rescheduled),
    /// and with `prune` the stack's services the file no longer has removed.
    public func deploy(namespace: String, compose: String, prune: Bool) async -> CommandResult {
        let parsed: [(name: String, spec: JSONValue, networks: [String])]
        let externals: (networks: [String], secrets: [(key: String, name: String)])
        do throws(StackCompose.Failure) {
            let file = try StackCompose(compose)
            externals = (file.externalNetworks, file.externalSecrets)
            parsed = try Self.services(of: file, compose: compose, namespace: namespace)
        } catch {
            return CommandResult(status: 1, stdout: "", stderr: "\(error)")
        }
        return world.withLock { state in
            state.deploys += 1
            guard state.swarmActive else {
                return CommandResult(status: 1, stdout: "", stderr: "this node is not a swarm manager")
            }
            for name in externals.networks where !state.networks.contains(where: { $0.name == name && $0.scope == "swarm" }) {
                return CommandResult(status: 1, stdout: "", stderr: "network \"\(name)\" is declared as external, but could not be found")
            }
            var secretIDs: [String: String] = [:]
            for (_, name) in externals.secrets {
                guard let secret = state.secrets.first(where: { $0.secret.name == name })?.secret else {
                    return CommandResult(status: 1, stdout: "", stderr: "failed to create service: secret not found: \(name)")
                }
                secretIDs[name] = secret.id
            }
            let stackLabel = ["com.docker.stack.namespace": namespace]
            for (_, _, networks) in parsed {
                for name in networks where !state.networks.contains(where: { $0.name == name }) {
                    state.networks.append(
                        DockerNetwork(id: Self.id(&state, "net"), name: name, driver: "overlay", scope: "swarm", attachable: false, labels: stackLabel))
                }
            }
            let networkIDs = Dictionary(state.networks.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
            for (name, spec, networks) in parsed {
                var container = spec["TaskTemplate"]?["ContainerSpec"] ?? .object([])
                let secrets = (container["Secrets"]?.arrayItems ?? []).map { item -> JSONValue in
                    let secret = item["SecretName"]?.stringValue ?? ""
                    return .object([("SecretID", .string(secretIDs[secret] ?? "")), ("SecretName", .string(secret))])
                }
                container = container.with("Secrets", .array(secrets))
                var template = (spec["TaskTemplate"] ?? .object([])).with("ContainerSpec", container)
                template = template.with("Networks", .array(networks.map { .object([("Target", .string(networkIDs[$0] ?? $0))]) }))
                let full = spec.with("TaskTemplate", template)
                if let index = state.services.firstIndex(where: { $0.name == name }) {
                    guard state.services[index].spec != full else { continue }
                    let service = state.services[index]
                    state.services[index].previousSpec = service.spec
                    state.services[index].spec = full
                    state.services[index].version += 1
                    state.services[index].updateState = "completed"
                    Self.schedule(&state, state.services[index])
                } else {
                    let service = Service(id: Self.id(&state, "service"), version: 1, spec: full)
                    state.services.append(service)
                    Self.schedule(&state, service)
                }
            }
            if prune {
                let wanted = Set(parsed.map(\.name))
                let stale = state.services.filter { $0.labels["com.docker.stack.namespace"] == namespace && !wanted.contains($0.name) }.map(\.id)
                state.services.removeAll { stale.contains($0.id) }
                state.tasks.removeAll { stale.contains($0.serviceID) }
            }
            state.changes.append("deploy \(namespace)")
            return CommandResult(status: 0, stdout: "Creating services\n", stderr: "")
        }
    }

    /// Each service of the file as the CLI makes it: its spec (image, environment, labels with the
    /// stack's, replicas, placement, ports, secrets by name) and the networks it joins, by name.
    static func services(
        of file: StackCompose, compose: String, namespace: String
    ) throws(StackCompose.Failure) -> [(name: String, spec: JSONValue, networks: [String])] {
        let root: Node.Mapping
        do {
            guard let mapping = try Yams.compose(yaml: compose)?.mapping else { throw StackCompose.Failure(message: "not a mapping") }
            root = mapping
        } catch let failure as StackCompose.Failure {
            throw failure
        } catch {
            throw StackCompose.Failure(message: "the compose file is not valid YAML: \(error)")
        }
        let services = root[key("services")]?.mapping
        return file.services.map { name in
            let body = services?[key(name)]?.mapping
            let deploy = body?[key("deploy")]?.mapping
            let requested = file.requested(name, namespace: namespace)
            var labels = pairs(deploy?[key("labels")])
            labels["com.docker.stack.namespace"] = namespace
            let env = pairs(body?[key("environment")]).map { "\($0.key)=\($0.value)" }.sorted()
            let secrets = (requested["secrets"] ?? "").split(separator: ",").map { JSONValue.object([("SecretName", .string(String($0)))]) }
            let constraints = (requested["placement"] ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
            let mode: JSONValue =
                requested["replicas"] == "global"
                ? .object([("Global", .object([]))])
                : .object([("Replicated", .object([("Replicas", .number(Double(Int(requested["replicas"] ?? "1") ?? 1)))]))])
            let container = JSONValue.object([
                ("Image", .string(requested["image"] ?? "")), ("Env", .array(env.map(JSONValue.string))),
                ("Labels", .object([("com.docker.stack.namespace", .string(namespace))])), ("Secrets", .array(secrets)),
            ])
            let spec = JSONValue.object([
                ("Name", .string("\(namespace)_\(name)")), ("Labels", FakeDockerEngine.object(labels)),
                ("TaskTemplate", .object([("ContainerSpec", container), ("Placement", .object([("Constraints", .array(constraints))]))])), ("Mode", mode),
                ("EndpointSpec", .object([("Ports", .array(ports(requested["ports"] ?? "")))])),
            ])
            return ("\(namespace)_\(name)", spec, (requested["networks"] ?? "").split(separator: ",").map(String.init))
        }
    }

    static func key(_ text: String) -> Node { Node(text, Tag(.str)) }

    /// `K=V` list or mapping.
    static func pairs(_ node: Node?) -> [String: String] {
        if let list = node?.sequence {
            return Dictionary(
                list.compactMap(\.string).map { text in
                    let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : "")
                }, uniquingKeysWith: { _, last in last })
        }
        return Dictionary(
            (node?.mapping ?? [:]).compactMap { entry in entry.key.string.map { ($0, entry.value.string ?? "") } }, uniquingKeysWith: { _, last in last })
    }

    /// The summary's `published:target/protocol mode` back into the Engine's port objects.
    static func ports(_ text: String) -> [JSONValue] {
        text.split(separator: ",").compactMap { item in
            let words = item.split(separator: " ").map(String.init)
            let numbers = words[0].split(separator: "/")[0].split(separator: ":").map(String.init)
            guard numbers.count == 2, let target = Int(numbers[1]) else { return nil }
            var members: [(key: String, value: JSONValue)] = [
                ("Protocol", .string(String(words[0].split(separator: "/").last ?? "tcp"))), ("TargetPort", .number(Double(target))),
            ]
            if let published = Int(numbers[0]) { members.append(("PublishedPort", .number(Double(published)))) }
            members.append(("PublishMode", .string(words.count > 1 ? words[1] : "ingress")))
            return .object(members)
        }
    }
}
