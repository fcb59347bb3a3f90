import Yams

/// What phoenix reads from, and changes in, a rendered compose file before `docker stack deploy`:
/// the external networks and secrets it needs, its services, and the deploy form — the external
/// secrets pointed at their versioned names and every service labelled with the stack's spec hash.
public struct StackCompose {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
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
