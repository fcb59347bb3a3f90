import PhoenixCore

/// The parts of a service's spec plan and drift compare, as Docker reports them: image, replicas,
/// environment names (the values only as a keyed hash), labels, placement, published ports,
/// secrets and networks.
public struct ServiceSummary: Sendable, Equatable {
    public var fields: [String: String]

    public init(fields: [String: String]) { self.fields = fields }

    public init(_ service: SwarmService, networkNames: [String: String], digests: ContentDigests) {
        let task = service.spec["TaskTemplate"] ?? .null
        let container = task["ContainerSpec"] ?? .null
        var fields: [String: String] = [:]
        fields["image"] = container["Image"]?.stringValue ?? ""
        fields["replicas"] = service.replicas.map(String.init) ?? "global"
        let env = container["Env"]?.arrayItems.compactMap(\.stringValue) ?? []
        fields["env"] = env.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }.sorted().joined(separator: ",")
        fields["env_values"] = env.isEmpty ? "" : String(digests.digest(env.sorted().joined(separator: "\n"), sensitive: true).suffix(16))
        // The labels the service was given: the stack's own bookkeeping (`com.docker.stack.*`) and phoenix's spec label left out.
        fields["labels"] = service.labels.filter { $0.key != StackCompose.specLabel && !$0.key.hasPrefix("com.docker.stack.") }
            .map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ",")
        fields["placement"] = (task["Placement"]?["Constraints"]?.arrayItems.compactMap(\.stringValue) ?? []).sorted().joined(separator: ",")
        fields["ports"] = (service.spec["EndpointSpec"]?["Ports"]?.arrayItems ?? []).map { port in
            let published = port["PublishedPort"]?.intValue.map(String.init) ?? "-"
            let target = port["TargetPort"]?.intValue.map(String.init) ?? "-"
            return "\(published):\(target)/\(port["Protocol"]?.stringValue ?? "tcp") \(port["PublishMode"]?.stringValue ?? "ingress")"
        }.sorted().joined(separator: ",")
        fields["secrets"] = (container["Secrets"]?.arrayItems.compactMap { $0["SecretName"]?.stringValue } ?? []).sorted().joined(separator: ",")
        fields["networks"] = (task["Networks"]?.arrayItems.compactMap { $0["Target"]?.stringValue } ?? []).map { networkNames[$0] ?? $0 }.sorted()
            .joined(separator: ",")
        self.fields = fields
    }

    /// As recorded in the state store.
    public var text: String { JSONWriter(sortedKeys: true, pretty: false).string(.object(fields.keys.sorted().map { ($0, .string(fields[$0]!)) })) }

    public init?(text: String) {
        guard let value = try? JSONParser.parse(Array(text.utf8)).value, case .object = value else { return nil }
        fields = value.stringMap
    }

    /// `replicas 2 → 3`, `env +DEBUG`, `image a → b`: what differs from `recorded`; environment values never shown.
    public func differences(from recorded: ServiceSummary, only: Set<String>? = nil) -> [String] {
        var lines: [String] = []
        for key in Set(fields.keys).union(recorded.fields.keys).sorted() where only?.contains(key) ?? true {
            let now = fields[key] ?? "", then = recorded.fields[key] ?? ""
            guard now != then else { continue }
            switch key {
            case "env_values":
                if fields["env"] == recorded.fields["env"] { lines.append("environment values changed") }
            case "env", "labels", "placement", "ports", "secrets", "networks":
                let a = Set(now.split(separator: ",").map(String.init)), b = Set(then.split(separator: ",").map(String.init))
                let words = a.subtracting(b).sorted().map { "+\($0)" } + b.subtracting(a).sorted().map { "-\($0)" }
                lines.append("\(key) \(words.joined(separator: " "))")
            default:
                lines.append("\(key) \(then.isEmpty ? "-" : then) → \(now.isEmpty ? "-" : now)")
            }
        }
        return lines
    }
}
