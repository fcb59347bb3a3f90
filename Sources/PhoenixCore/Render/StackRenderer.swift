import Yams

/// Renders the compose file of every stack in every environment: variables substituted inside YAML
/// values, Traefik labels merged into `deploy.labels`, the rest of the document preserved.
struct StackRenderer {
    let estate: Estate

    func render(into output: inout RenderOutput) {
        for stack in estate.stacks {
            guard let compose = stack.compose else { continue }
            let environments = stack.environments.isEmpty ? [nil] : stack.environments.map(Optional.some)
            let document = Self.parse(compose.value)  // once per stack, not once per environment
            for environment in environments {
                let name = environment?.name ?? estate.settings.stackEnvironment
                let path = "\(estate.settings.stacksPath)/\(stack.name)/docker-compose.\(name).yml"
                switch Self.render(compose: compose.value, parsed: document, environment: environment) {
                case let .success(rendered):
                    output.files.append(RenderedFile(target: .host, path: path, contents: rendered.text))
                    if !rendered.unresolved.isEmpty {
                        output.notes.append(
                            "stacks: \(stack.name) (\(name)) leaves ${\(rendered.unresolved.joined(separator: "}, ${"))} for docker stack deploy to resolve")
                    }
                case let .failure(error):
                    output.notes.append("stacks: \(stack.name) (\(name)) not rendered: \(error.message)")
                }
            }
        }
    }

    struct Rendered {
        let text: String
        let unresolved: [String]
    }

    struct Failure: Error {
        let message: String
    }

    static func render(compose: String, environment: StackEnvironment?) -> Result<Rendered, Failure> {
        render(compose: compose, parsed: parse(compose), environment: environment)
    }

    /// Parses a compose file into nodes. Tags are not resolved (every plain scalar reads as a string):
    /// the renderer only needs the tree, plain scalars are written back plain, and Yams' resolver
    /// runs a set of regular expressions on every scalar.
    static func parse(_ compose: String) -> Result<Node, Failure> {
        do {
            guard let parsed = try Yams.compose(yaml: compose, .basic, .default, .utf8) else {
                return .failure(Failure(message: "the compose file is empty"))
            }
            return .success(parsed)
        } catch {
            return .failure(Failure(message: "the compose file is not valid YAML: \(error)"))
        }
    }

    static func render(compose: String, parsed: Result<Node, Failure>, environment: StackEnvironment?) -> Result<Rendered, Failure> {
        let variables = Dictionary(environment?.variables.map { ($0.name, $0.value) } ?? [], uniquingKeysWith: { $1 })
        let services = environment?.services.filter { !$0.labels.isEmpty } ?? []
        var interpolation = ComposeInterpolation(variables: variables)
        // Nothing to change: keep the author's bytes, comments included.
        if services.isEmpty && !compose.utf8.contains(UInt8(ascii: "$")) {
            return .success(Rendered(text: compose, unresolved: []))
        }
        let document: Node
        switch parsed {
        case let .success(node): document = node
        case let .failure(failure): return .failure(failure)
        }
        var result = substitute(document, &interpolation)
        for service in services {
            guard var root = result.mapping, var allServices = root[key("services")]?.mapping, let serviceNode = allServices[key(service.name)],
                var serviceMap = serviceNode.mapping
            else {
                return .failure(Failure(message: "labels are declared for service \(service.name), which the compose file does not define"))
            }
            var deploy = serviceMap[key("deploy")]?.mapping ?? Node.Mapping([])
            deploy[key("labels")] = merge(labels: service.labels, into: deploy[key("labels")])
            serviceMap[key("deploy")] = .mapping(deploy)
            allServices[key(service.name)] = .mapping(serviceMap)
            root[key("services")] = .mapping(allServices)
            result = .mapping(root)
        }
        do {
            let text = try Yams.serialize(node: result, indent: 2, width: -1, allowUnicode: true)
            return .success(Rendered(text: text, unresolved: Array(Set(interpolation.unresolved)).sorted()))
        } catch {
            return .failure(Failure(message: "cannot serialise the compose file: \(error)"))
        }
    }

    /// Interpolates every scalar. A plain scalar that becomes a whole number stays a number
    /// (`replicas: ${N}`); everything else stays a string.
    private static func substitute(_ node: Node, _ interpolation: inout ComposeInterpolation) -> Node {
        switch node {
        case let .scalar(scalar):
            let replaced = interpolation.interpolate(scalar.string)
            guard replaced != scalar.string else { return node }
            let isNumber = !replaced.isEmpty && replaced.allSatisfy { $0.isASCII && $0.isNumber }
            if scalar.style == .plain && isNumber { return Node(replaced, YAML.intTag) }
            return YAML.string(replaced)
        case let .mapping(mapping):
            return Node(mapping.map { ($0.key, substitute($0.value, &interpolation)) }, mapping.tag, mapping.style)
        case let .sequence(sequence):
            return Node(sequence.map { substitute($0, &interpolation) }, sequence.tag, sequence.style)
        default:
            return node
        }
    }

    /// A mapping key as the parser reads it: a string, whatever it looks like (a service named `2048`).
    private static func key(_ text: String) -> Node { Node(text, YAML.stringTag) }

    /// Labels from the configuration win over labels of the same key in the compose file. A list of
    /// `key=value` stays a list; otherwise the result is a mapping.
    private static func merge(labels: [TraefikLabel], into existing: Node?) -> Node {
        if case let .sequence(sequence)? = existing {
            let keys = Set(labels.map(\.key))
            var items: [Node] = sequence.filter { item in
                guard let text = item.string, let key = text.split(separator: "=", maxSplits: 1).first else { return true }
                return !keys.contains(String(key))
            }
            items += labels.map { YAML.string("\($0.key)=\($0.value)") }
            return Node(items, YAML.sequenceTag)
        }
        var mapping = existing?.mapping ?? Node.Mapping([])
        for label in labels { mapping[key(label.key)] = YAML.string(label.value) }
        return .mapping(Node.Mapping(mapping.map { ($0.key, $0.value) }, mapping.tag, .block))
    }
}
