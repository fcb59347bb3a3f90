/// A file of a stack directory, as the files stage mirrors it.
public struct StackFile: Sendable, Hashable {
    /// Relative to the stacks directory: `whoami/docker-compose.yml`.
    public let path: String
    public let contents: String
    public let executable: Bool

    public init(path: String, contents: String, executable: Bool) {
        self.path = path
        self.contents = contents
        self.executable = executable
    }

    /// Whether the file may hold secrets: the state store then keeps only a keyed hash of it, so a
    /// rollback can tell whether it is as a run left it but cannot put it back. A stack's own
    /// compose file and `phoenix.json` hold configuration committed in git (secret values belong in
    /// Swarm secrets, and the stacks stage keeps the rendered compose in the state store already),
    /// so their contents are kept for rollback; any other file of a stack (an env file, a key, a
    /// service's own settings) may hold secrets.
    public var mayHoldSecrets: Bool { Self.mayHoldSecrets(path: path) }

    /// Whether the stack file at `path` (relative to the stacks directory) may hold secrets.
    public static func mayHoldSecrets(path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return !(parts.count == 2 && [ConfigSources.FileName.compose, ConfigSources.FileName.stackManifest].contains(String(parts[1])))
    }
}

/// What desired state needs besides the configuration: read by the caller (the core does no I/O).
public struct SyncInputs: Sendable {
    /// Every file of the stack directories (the files stage).
    public var stackFiles: [StackFile] = []
    /// The Step-CA root as exported on the host (the trust stage); nil when it is not there.
    public var caRoot: String?

    public init(stackFiles: [StackFile] = [], caRoot: String? = nil) {
        self.stackFiles = stackFiles
        self.caRoot = caRoot
    }
}

/// The resources a set of stages should converge to: every rendered file, with a stable id, the
/// service it belongs to and what going live needs. Pure: the same estate gives the same resources.
public struct DesiredState: Sendable {
    public var resources: [Resource]
    /// Stages that were asked for but that this version plans without applying, with the reason.
    public let notApplied: [(stage: SyncStage, reason: String)]
    /// Notes from rendering (a stage with nothing to render, and why).
    public var notes: [String]
    /// What plan and sync warn about every time (a service whose verification is turned off).
    public var warnings: [String]

    public init(estate: Estate, stages: [SyncStage], nodeName: String, inputs: SyncInputs = SyncInputs()) {
        let renderStages = stages.compactMap(Self.renderStage)
        let output = EstateRenderer(estate: estate, defaultNodeName: nodeName).render(renderStages)
        var resources: [Resource] = []
        for file in output.files {
            if let resource = Self.resource(for: file, estate: estate) { resources.append(resource) }
        }
        var notes = output.notes
        var notApplied: [(stage: SyncStage, reason: String)] = []
        if stages.contains(.files) {
            for file in inputs.stackFiles {
                // Paths reach rsync's file list and the host: the same characters as every path setting.
                guard TextRules.isAbsolutePath("/" + file.path), !file.path.split(separator: "/").contains(".") else {
                    notes.append("files: stacks/\(file.path) is skipped: its name has characters phoenix does not copy")
                    continue
                }
                resources.append(
                    Resource(
                        id: "files:\(file.path)", unit: .stackFiles, path: "\(estate.settings.stacksPath)/\(file.path)", contents: file.contents,
                        mode: file.executable ? "0755" : "0644", activation: .none, origin: "stacks/\(file.path)", sensitive: file.mayHoldSecrets))
            }
        }
        if stages.contains(.trust) {
            if let root = inputs.caRoot {
                resources.append(
                    Resource(
                        id: "trust:ca-root", unit: .caTrust, path: estate.settings.trustDestination, contents: root, mode: "0644", activation: .reload,
                        origin: "the Step-CA root exported at \(estate.settings.trustSource)"))
            } else {
                notApplied.append((.trust, "the Step-CA root \(estate.settings.trustSource) is not on the host yet (the Step-CA guest exports it)"))
            }
        }
        self.resources = resources.sorted { $0.id < $1.id }
        self.notApplied = notApplied.sorted { $0.0 < $1.0 }
        self.notes = notes
        warnings = ServiceCommands.verificationWarnings(estate.settings, stages: Set(stages))
    }

    private static func renderStage(_ stage: SyncStage) -> RenderStage? {
        switch stage {
        case .dns: return .dns
        case .firewall: return .firewall
        case .services: return .services
        case .gateway: return .gateway
        default: return nil
        }
    }

    private static func resource(for file: RenderedFile, estate: Estate) -> Resource? {
        func make(_ id: String, _ unit: ServiceUnit, _ activation: Activation, _ origin: String) -> Resource {
            Resource(id: id, unit: unit, path: file.path, contents: file.contents, mode: file.mode, activation: activation, origin: origin)
        }
        let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
        switch file.target {
        case .report:
            return nil
        case .host where file.path == estate.dns.configFile:
            return make("dns:settings", .dnsmasq, .restart, "dns_server in \(estate.hypervisorFile)")
        case .host where file.path == estate.dns.recordsFile:
            return make("dns:records", .dnsmasq, .reload, "the guests' names and addresses, traefik_service names and stack Host rules")
        case .host where file.path.hasPrefix("/etc/pve/"):
            if name == "cluster.fw" { return make("firewall:cluster", .pveFirewall, .reload, "firewall in \(estate.hypervisorFile)") }
            if name == "host.fw" { return make("firewall:host", .pveFirewall, .reload, "firewall.enabled in \(estate.hypervisorFile)") }
            let id = name.hasSuffix(".fw") ? String(name.dropLast(3)) : name
            return make("firewall:guest/\(id)", .pveFirewall, .reload, "the firewall of guest \(id)")
        case .host:
            return nil
        case let .guest(id) where file.path == estate.settings.traefik.staticFile:
            return make("services:traefik-static", .traefik(guest: id), .restart, "phoenix.traefik in \(estate.hypervisorFile)")
        case let .guest(id) where file.path.hasPrefix(estate.settings.traefik.dynamicDirectory + "/"):
            return make("services:traefik-dynamic", .traefik(guest: id), .none, "the traefik_service of every guest and the stacks' Host rules")
        case let .guest(id) where file.path == estate.settings.gateway.siteFile:
            return make("gateway:site", .nginx(guest: id), .reload, "the service catalogue and phoenix.gateway")
        case let .guest(id) where file.path == estate.settings.gateway.streamFile:
            return make("gateway:stream", .nginx(guest: id), .reload, "phoenix.gateway.stream_listen and the Traefik mesh entry point")
        case .guest:
            return nil
        }
    }
}
