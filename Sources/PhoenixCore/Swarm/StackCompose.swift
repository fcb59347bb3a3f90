import Yams

/// What phoenix reads from, and changes in, a rendered compose file before `docker stack deploy`:
/// the external networks and secrets it needs, its services, and the deploy form — the external
/// secrets pointed at their versioned names and every service labelled with the stack's spec hash.
public struct StackCompose {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        /// What the stack needs is not there yet (a secret this run has not made): the stack is
        /// blocked, not broken.
        public let waiting: Bool
        public var description: String { message }
        public init(message: String, waiting: Bool = false) {
            self.message = message
            self.waiting = waiting
        }
    }

    /// The label on every service phoenix deploys: the stack's spec hash.
    public static let specLabel = "io.phoenix.spec"

    public let text: String
    public let services: [String]
    /// `networks:` entries with `external: true`, by their Docker name.
    public let externalNetworks: [String]
    /// `secrets:` entries with `external: true`: the compose key and the Swarm name it refers to.
    public let externalSecrets: [(key: String, name: String)]
    let root: Node.Mapping

    public init(_ text: String) throws(Failure) {
        self.text = text
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .basic, .default, .utf8)
        } catch {
            throw Failure(message: "the compose file is not valid YAML: \(error)")
        }
        guard let root = node?.mapping else { throw Failure(message: "the compose file is not a mapping") }
        self.root = root
        guard let services = root[Self.key("services")]?.mapping, !services.isEmpty else {
            throw Failure(message: "the compose file defines no services")
        }
        self.services = services.keys.compactMap(\.string)
        externalNetworks = Self.externals(root[Self.key("networks")]).map(\.name)
        externalSecrets = Self.externals(root[Self.key("secrets")])
    }

    private static func externals(_ node: Node?) -> [(key: String, name: String)] {
        guard let mapping = node?.mapping else { return [] }
        return mapping.compactMap { entry in
            guard let key = entry.key.string, let body = entry.value.mapping, let external = body[Self.key("external")] else { return nil }
            // `external: true`, or the old form `external: {name: x}`.
            if let nested = external.mapping { return nested[Self.key("name")]?.string.map { (key, $0) } }
            guard external.string == "true" || external.bool == true else { return nil }
            return (key, body[Self.key("name")]?.string ?? key)
        }
    }

    /// The compose file as phoenix deploys it: each external secret named by `versions[name]`
    /// (`portainer_admin_password` → `portainer_admin_password_3f9a…`), every service labelled with
    /// `spec`. The rest of the document as rendered.
    public func deployForm(versions: [String: String], spec: String?) throws(Failure) -> String {
        var root = self.root
        if var secrets = root[Self.key("secrets")]?.mapping {
            for (key, name) in externalSecrets {
                guard let versioned = versions[name], var body = secrets[Self.key(key)]?.mapping else { continue }
                body[Self.key("external")] = Node("true", Tag(.bool))
                body[Self.key("name")] = Node(versioned, Tag(.str), .plain)
                secrets[Self.key(key)] = .mapping(body)
            }
            root[Self.key("secrets")] = .mapping(secrets)
        }
        if let spec, var services = root[Self.key("services")]?.mapping {
            for entry in services {
                guard var service = entry.value.mapping else { continue }
                var deploy = service[Self.key("deploy")]?.mapping ?? Node.Mapping([])
                deploy[Self.key("labels")] = Self.setting(Self.specLabel, spec, in: deploy[Self.key("labels")])
                service[Self.key("deploy")] = .mapping(deploy)
                services[entry.key] = .mapping(service)
            }
            root[Self.key("services")] = .mapping(services)
        }
        do {
            return try Yams.serialize(node: .mapping(root), indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw Failure(message: "cannot serialise the compose file: \(error)")
        }
    }

    /// The document with every service whose image starts with `prefix` running `image` instead
    /// (the Portainer server's image from `docker.portainer_server_image`).
    public func replacingImages(prefix: String, with image: String) throws(Failure) -> String {
        var root = self.root
        guard var services = root[Self.key("services")]?.mapping else { return text }
        var changed = false
        for entry in services {
            guard var service = entry.value.mapping, let current = service[Self.key("image")]?.string, current.hasPrefix(prefix), current != image else {
                continue
            }
            service[Self.key("image")] = Node(image, Tag(.str))
            services[entry.key] = .mapping(service)
            changed = true
        }
        guard changed else { return text }
        root[Self.key("services")] = .mapping(services)
        do {
            return try Yams.serialize(node: .mapping(root), indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw Failure(message: "cannot serialise the compose file: \(error)")
        }
    }

    /// One service's part of the document, as text (what plan compares between deploys).
    public func serviceText(_ name: String) -> String? {
        guard let node = root[Self.key("services")]?.mapping?[Self.key(name)] else { return nil }
        return try? Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)
    }

    /// What a service of this file asks the Engine for, in the terms of the service summary plan
    /// compares (image, replicas, environment names, labels, placement, published ports, secrets,
    /// networks): the compose side of a per-service plan line such as `replicas 2 → 3`. `namespace`
    /// names the stack's own networks as `docker stack deploy` does (`<namespace>_<name>`).
    public func requested(_ name: String, namespace: String) -> [String: String] {
        guard let service = root[Self.key("services")]?.mapping?[Self.key(name)]?.mapping else { return [:] }
        let deploy = service[Self.key("deploy")]?.mapping
        var fields: [String: String] = [:]
        fields["image"] = service[Self.key("image")]?.string ?? ""
        fields["replicas"] = deploy?[Self.key("mode")]?.string == "global" ? "global" : (deploy?[Self.key("replicas")]?.string ?? "1")
        fields["env"] = Self.pairs(service[Self.key("environment")]).map(\.key).sorted().joined(separator: ",")
        fields["labels"] = Self.pairs(deploy?[Self.key("labels")]).filter { $0.key != Self.specLabel }.map { "\($0.key)=\($0.value)" }.sorted()
            .joined(separator: ",")
        fields["placement"] = (deploy?[Self.key("placement")]?.mapping?[Self.key("constraints")]?.sequence?.compactMap(\.string) ?? []).sorted()
            .joined(separator: ",")
        let externals = Dictionary(externalSecrets.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first })
        let secrets: [String] = (service[Self.key("secrets")]?.sequence ?? []).compactMap { item in
            let key = item.string ?? item.mapping?[Self.key("source")]?.string
            return key.map { externals[$0] ?? "\(namespace)_\($0)" }
        }
        fields["secrets"] = secrets.sorted().joined(separator: ",")
        let external = Dictionary(Self.externalsByKey(root[Self.key("networks")]), uniquingKeysWith: { first, _ in first })
        var networks: [String] = []
        if let list = service[Self.key("networks")]?.sequence {
            networks = list.compactMap(\.string)
        } else if let map = service[Self.key("networks")]?.mapping {
            networks = map.keys.compactMap(\.string)
        } else {
            networks = ["default"]
        }
        fields["networks"] = networks.map { external[$0] ?? "\(namespace)_\($0)" }.sorted().joined(separator: ",")
        fields["ports"] = (service[Self.key("ports")]?.sequence ?? []).compactMap(Self.port).sorted().joined(separator: ",")
        return fields
    }

    /// `environment`/`labels` as a list of `K=V` or a mapping.
    private static func pairs(_ node: Node?) -> [(key: String, value: String)] {
        if let list = node?.sequence {
            return list.compactMap(\.string).map { text in
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }
        }
        return node?.mapping?.compactMap { entry in entry.key.string.map { ($0, entry.value.string ?? "") } } ?? []
    }

    private static func externalsByKey(_ node: Node?) -> [(String, String)] { externals(node).map { ($0.key, $0.name) } }

    /// A port as the summary writes it: `published:target/protocol mode`.
    private static func port(_ node: Node) -> String? {
        if let map = node.mapping {
            let target = map[key("target")]?.string ?? "-"
            let published = map[key("published")]?.string ?? "-"
            return "\(published):\(target)/\(map[key("protocol")]?.string ?? "tcp") \(map[key("mode")]?.string ?? "ingress")"
        }
        guard let text = node.string else { return nil }
        let protocolParts = text.split(separator: "/", maxSplits: 1).map(String.init)
        let parts = protocolParts[0].split(separator: ":").map(String.init)
        guard let target = parts.last else { return nil }
        let published = parts.count >= 2 ? parts[parts.count - 2] : "-"
        return "\(published):\(target)/\(protocolParts.count > 1 ? protocolParts[1] : "tcp") ingress"
    }

    /// One key of a service (`deploy`), as text; phoenix's own spec label left out.
    public func serviceKeyText(_ name: String, _ key: String) -> String? {
        guard let node = root[Self.key("services")]?.mapping?[Self.key(name)]?.mapping?[Self.key(key)] else { return nil }
        let text = (try? Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)) ?? ""
        return text.split(separator: "\n").filter { !$0.contains(Self.specLabel) }.joined(separator: "\n")
    }

    /// The top-level keys of a service that differ between two compose files (`image`, `deploy`, …).
    public func changedKeys(of service: String, from previous: StackCompose) -> [String] {
        let new = root[Self.key("services")]?.mapping?[Self.key(service)]?.mapping
        let old = previous.root[Self.key("services")]?.mapping?[Self.key(service)]?.mapping
        guard let new, let old else { return [] }
        let keys = Set(new.keys.compactMap(\.string)).union(old.keys.compactMap(\.string))
        return keys.filter { key in serviceKeyText(service, key) != previous.serviceKeyText(service, key) }.sorted()
    }

    static func key(_ text: String) -> Node { Node(text, Tag(.str)) }

    private static func setting(_ key: String, _ value: String, in existing: Node?) -> Node {
        if case let .sequence(sequence)? = existing {
            var items: [Node] = sequence.filter { item in item.string.map { !$0.hasPrefix(key + "=") } ?? true }
            items.append(Node("\(key)=\(value)", Tag(.str)))
            return Node(items, Tag(.seq))
        }
        var mapping = existing?.mapping ?? Node.Mapping([])
        mapping[Self.key(key)] = Node(value, Tag(.str))
        return .mapping(Node.Mapping(mapping.map { ($0.key, $0.value) }, mapping.tag, .block))
    }
}
