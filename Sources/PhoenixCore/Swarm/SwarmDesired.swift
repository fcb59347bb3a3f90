/// The Swarm the configuration declares: the manager and workers (VMs with `swarm_role`), each
/// one's daemon, advertised address and node labels; the stacks the VMs list (`docker_stacks`) in
/// the environment phoenix deploys; and the external networks and secrets those stacks need. Pure.
public struct SwarmDesired: Sendable {
    /// The resources the configuration of the Swarm names: an overlay network, a secret, a stack,
    /// Portainer's server and agent.
    public static func networkID(_ network: String) -> String { "swarm:network/\(network)" }
    public static func secretID(_ secret: String) -> String { "swarm:secret/\(secret)" }
    public static func stackID(environment: String, stack: String) -> String { "stack:\(environment)/\(stack)" }
    public static let portainerServerID = "portainer:server"
    public static let portainerAgentID = "portainer:agent"

    public struct Member: Sendable {
        public let vmid: Int
        /// The VM's name: its Swarm node's host name.
        public let name: String
        public let isManager: Bool
        public let labels: [String: String]
        /// The address it advertises to the Swarm (`phoenix.docker.advertise`, else its static address).
        public let advertise: String?
        /// Its daemon: `unix://…` or `tcp://host:port`.
        public let endpoint: String
        public var resourceID: String { "swarm:node/\(name)" }
    }

    /// A stack as phoenix deploys it: `<env>_<stack>` from its rendered compose.
    public struct Stack: Sendable {
        public let name: String
        public let environment: String
        /// The VMs that list it (placement comes from the compose file, not from them).
        public let listedBy: [Int]
        /// The compose file with the environment's variables and labels; or why it cannot be rendered.
        public let rendered: Result<String, StackCompose.Failure>
        public let externalNetworks: [String]
        public let externalSecrets: [String]
        /// `stack:<env>/<name>`; `portainer:server` for the Portainer stack.
        public let resourceID: String
        /// `stacks`, or `services` for the Portainer stack.
        public let stage: SyncStage
        public var namespace: String { "\(environment)_\(name)" }
    }

    public let manager: Member?
    public let workers: [Member]
    public let stacks: [Stack]
    /// The overlay networks the stacks declare external, with the stacks that need each.
    public let networks: [String: [String]]
    /// The Swarm secrets the stacks declare external (and the Portainer admin password), with the
    /// stacks that need each.
    public let secrets: [String: [String]]
    public var members: [Member] { (manager.map { [$0] } ?? []) + workers }
    /// The Swarm members with `portainer_role: agent`: the Portainer agent runs on each.
    public var agents: [Member] { members.filter { agentVMs.contains($0.vmid) } }
    /// VMs with `portainer_role: agent`, by VMID (an agent VM outside the Swarm cannot run it).
    public let agentVMs: [Int]

    /// The node label that places the Portainer agent.
    public static let agentLabel = "io.phoenix.portainer-agent"

    /// The name of the Portainer admin password's secret (the original's).
    public static let portainerPasswordSecret = "portainer_admin_password"

    public init(estate: Estate) {
        let docker = estate.settings.docker
        let agentVMs = estate.guests.filter { $0.enabled && $0.kind == .vm && $0.portainerRole == "agent" }.map(\.id)
        self.agentVMs = agentVMs
        func member(_ guest: Guest) -> Member {
            let address = docker.advertise[guest.id] ?? guest.staticAddress?.description
            var labels = guest.nodeLabels
            if agentVMs.contains(guest.id) { labels[Self.agentLabel] = "true" }
            return Member(
                vmid: guest.id, name: guest.name, isManager: guest.swarmRole == "manager", labels: labels, advertise: address,
                endpoint: docker.endpoints[guest.id] ?? "tcp://\(guest.staticAddress?.description ?? guest.name):\(docker.port)")
        }
        let swarm = estate.guests.filter { $0.enabled && $0.kind == .vm && $0.swarmRole != nil }
        manager = swarm.first { $0.swarmRole == "manager" }.map(member)
        workers = swarm.filter { $0.swarmRole == "worker" }.map(member)

        let environment = estate.settings.stackEnvironment
        var listed: [String: [Int]] = [:]
        var order: [String] = []
        for guest in estate.guests where guest.enabled {
            for stack in guest.dockerStacks {
                if listed[stack.value] == nil { order.append(stack.value) }
                listed[stack.value, default: []].append(guest.id)
            }
        }
        let byName = Dictionary(estate.stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let primary = Set(estate.guests.filter { $0.enabled && $0.portainerRole == "primary" }.map(\.id))
        var networks: [String: [String]] = [:]
        var secrets: [String: [String]] = [:]
        stacks = order.map { name in
            let isPortainer = name == docker.portainerStack && !(listed[name] ?? []).filter(primary.contains).isEmpty
            var rendered: Result<String, StackCompose.Failure>
            if let stack = byName[name], let compose = stack.compose {
                switch StackRenderer.render(compose: compose.value, environment: stack.environment(environment)) {
                case let .success(result): rendered = .success(result.text)
                case let .failure(failure): rendered = .failure(StackCompose.Failure(message: failure.message))
                }
                if isPortainer, case let .success(text) = rendered {
                    do throws(StackCompose.Failure) {
                        rendered = .success(try StackCompose(text).replacingImages(prefix: "portainer/portainer", with: docker.portainerServerImage))
                    } catch {
                        rendered = .failure(error)
                    }
                }
            } else {
                rendered = .failure(StackCompose.Failure(message: "stacks/\(name)/docker-compose.yml is missing"))
            }
            var externalNetworks: [String] = []
            var externalSecrets: [String] = []
            if case let .success(text) = rendered, let compose = try? StackCompose(text) {
                externalNetworks = compose.externalNetworks
                externalSecrets = compose.externalSecrets.map(\.name)
            }
            for network in externalNetworks { networks[network, default: []].append(name) }
            for secret in externalSecrets { secrets[secret, default: []].append(name) }
            return Stack(
                name: name, environment: environment, listedBy: listed[name] ?? [], rendered: rendered, externalNetworks: externalNetworks,
                externalSecrets: externalSecrets, resourceID: isPortainer ? Self.portainerServerID : Self.stackID(environment: environment, stack: name),
                stage: isPortainer ? .services : .stacks)
        }
        if estate.portainerAdminPassword != nil, estate.guests.contains(where: { $0.enabled && $0.portainerRole == "primary" }) {
            // Portainer's admin password is kept as a secret even when no stack mounts it yet.
            if secrets[Self.portainerPasswordSecret] == nil { secrets[Self.portainerPasswordSecret] = [] }
        }
        self.networks = networks
        self.secrets = secrets
    }
}
