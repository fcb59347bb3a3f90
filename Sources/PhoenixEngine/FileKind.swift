import PhoenixCore

/// `--firewall-through api`: the firewall converges through the Proxmox API, so its `.fw` files are
/// not the files kind's resources (the rule sets through the API take their place).
public enum FirewallThroughAPI: KindOption {
    public static let defaultValue = false
}

/// What the files' resources are rendered from when the graph is drawn: the node name of the host's
/// firewall file, and the stack files and CA root when known (`graph --resources` lists them; a
/// run's graph leaves the stack files out, their units need nothing).
public enum FileGraphInputs: KindOption {
    public static let defaultValue = (nodeName: "phoenix", inputs: SyncInputs())
}

/// The files of the host-side stages (dnsmasq, the firewall's .fw files, Traefik, the gateway, the
/// trust store, the stack files). A file in a guest needs that guest's settings converged first;
/// the gateway's files need the Traefik resources of the ingress they proxy to; a service
/// configuration that names a certificate's files needs them installed. A guest's `.fw` file lives
/// on the host and needs nothing of the guest (its rule set through the API does).
public struct FileKind: ResourceKind {
    public let name = "file"
    public let stages: [SyncStage] = [.files, .trust, .dns, .firewall, .services, .gateway]

    public init() {}

    /// The file stages of `context` this kind converges: the firewall's only when it does not go
    /// through the API.
    public func stages(in context: ResourceGraphContext) -> [SyncStage] {
        stages.filter { context.stages.contains($0) && !($0 == .firewall && context.options[FirewallThroughAPI.self]) }
    }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        let (nodeName, inputs) = context.options[FileGraphInputs.self]
        let files = DesiredState(estate: context.estate, stages: stages(in: context), nodeName: nodeName, inputs: inputs).resources
        let ingress = Ingress(estate: context.estate).guest?.id
        let traefik = files.filter { $0.stage == .services && $0.target == ingress.map(RenderedFile.Target.guest) }.map(\.id)
        // nginx -t loads the certificate files a configuration names: those need installing first
        // (`cert:<name>/files`, settled once the files are in place).
        var certificates: [Int: [CertificateRequest]] = [:]
        if context.stages.contains(.certs) {
            for request in context.estate.certificates {
                if let guest = request.guestID { certificates[guest, default: []].append(request) }
            }
        }
        return files.map { resource in
            var needs: [String] = []
            if case let .guest(id) = resource.target {
                needs.append(Guest.resourceID(id))
                for request in certificates[id] ?? [] {
                    let paths = [request.guestCertPath, request.guestKeyPath, request.guestCAPath].compactMap { $0 }
                    if paths.contains(where: resource.contents.contains) { needs.append(request.filesResourceID) }
                }
            }
            if resource.stage == .gateway { needs += traefik }
            return ResourceNode(
                id: resource.id, kind: name, stage: resource.stage, target: resource.target, dependsOn: needs,
                owner: GuestScope.guest(ofFile: resource.id, target: resource.target).map { .guest($0) } ?? .estate)
        }
    }
}
