/// One Docker daemon's Engine API as phoenix's Swarm, stacks and Portainer kinds and the status
/// commands use it: the daemon and its Swarm, nodes, networks, secrets, services and tasks.
/// PhoenixDocker's `DockerClient` is the live adapter; PhoenixTesting's `FakeDockerEngine` holds a
/// single-node Swarm in memory.
public protocol DockerEngine: Sendable {
    /// The daemon, for messages: `unix:///run/docker.sock`, `tcp://10.0.0.111:2376`.
    var endpointDescription: String { get }

    /// What `/info` says of the daemon and its place in a Swarm.
    func info() async throws(DockerError) -> DockerInfo
    /// A new single-manager Swarm advertising `advertise` (never forcing a new cluster). Returns
    /// the node id.
    func initSwarm(advertise: String, listen: String) async throws(DockerError) -> String
    /// The join tokens (manager only): worker and manager.
    func joinTokens() async throws(DockerError) -> (worker: Secret, manager: Secret)
    /// This daemon joins the Swarm of `manager` (`host:port`) with `token`.
    func joinSwarm(manager: String, token: Secret, advertise: String, listen: String) async throws(DockerError)

    /// The Swarm's nodes (manager only).
    func nodes() async throws(DockerError) -> [SwarmNode]
    /// Sets a node's labels (the rest of its spec as it is).
    func updateNode(_ node: SwarmNode, labels: [String: String]) async throws(DockerError)
    /// Removes a node's entry (a stale Down one).
    func removeNode(_ id: String, force: Bool) async throws(DockerError)

    /// Every network the daemon knows.
    func networks() async throws(DockerError) -> [DockerNetwork]
    /// An attachable overlay network.
    func createOverlayNetwork(_ name: String, labels: [String: String]) async throws(DockerError)
    /// Removes a network (a pruned stack's own).
    func removeNetwork(_ id: String) async throws(DockerError)

    /// Every Swarm secret: names and labels, never values.
    func secrets() async throws(DockerError) -> [SwarmSecret]
    /// Creates a secret; its value travels in the request body only.
    func createSecret(_ name: String, value: Secret, labels: [String: String]) async throws(DockerError)
    /// Removes a secret (refused while a service uses it).
    func removeSecret(_ id: String) async throws(DockerError)

    /// Every service, or those with `label` (`key=value`): one call.
    func services(label: String?) async throws(DockerError) -> [SwarmService]
    /// Creates a service from its spec.
    func createService(spec: JSONValue) async throws(DockerError)
    /// Replaces a service's spec.
    func updateService(_ service: SwarmService, spec: JSONValue) async throws(DockerError)
    /// Returns a service to its previous spec.
    func rollbackService(_ service: SwarmService) async throws(DockerError)
    /// Removes a service and its tasks.
    func removeService(_ id: String) async throws(DockerError)
    /// The tasks of some services (all services when empty): one call.
    func tasks(services: [String]) async throws(DockerError) -> [SwarmTask]

    /// Engine API calls made so far (by this daemon's client and every view of it).
    var calls: Int { get async }
    /// This daemon's API with its calls also counted in `counter` (one step's, one kind's).
    func counting(into counter: CallCounter) -> any DockerEngine
    /// Ends its connections (a view made by `counting(into:)` leaves them to its parent).
    func shutdown() async
}

extension DockerEngine {
    public func initSwarm(advertise: String) async throws(DockerError) -> String {
        try await initSwarm(advertise: advertise, listen: "0.0.0.0:2377")
    }

    public func joinSwarm(manager: String, token: Secret, advertise: String) async throws(DockerError) {
        try await joinSwarm(manager: manager, token: token, advertise: advertise, listen: "0.0.0.0:2377")
    }

    public func removeNode(_ id: String) async throws(DockerError) { try await removeNode(id, force: false) }

    /// Every service: one call.
    public func services() async throws(DockerError) -> [SwarmService] { try await services(label: nil) }

    /// Every task: one call.
    public func tasks() async throws(DockerError) -> [SwarmTask] { try await tasks(services: []) }
}
