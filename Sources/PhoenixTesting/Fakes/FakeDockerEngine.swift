import Foundation
import PhoenixCore

/// A Docker daemon in memory, for the fast tests: a single-node Swarm (this daemon alone, its
/// manager once initialised) with its node, networks, secrets, services and their tasks, and the
/// `docker stack deploy` of a compose file into it (`StackDeployer`). Tasks run as soon as a
/// service is made or updated, or fail on demand (an image that crashes). It counts a round trip
/// per Engine API call and records every change, named as the live client's request.
public final class FakeDockerEngine: DockerEngine, StackDeployer {
    public struct Service: Sendable {
        public var id: String
        public var version: Int
        public var spec: JSONValue
        public var previousSpec: JSONValue?
        public var updateState: String?
        public var name: String { spec["Name"]?.stringValue ?? "" }
        public var labels: [String: String] { spec["Labels"]?.stringMap ?? [:] }
    }

    public struct State: Sendable {
        public var hostname: String
        public var swarmActive = false
        public var nodeVersion = 1
        public var nodeLabels: [String: String] = [:]
        public var networks: [DockerNetwork] = []
        public var secrets: [(secret: SwarmSecret, value: Secret)] = []
        public var services: [Service] = []
        public var tasks: [SwarmTask] = []
        /// Images whose tasks fail (exit 1) instead of running.
        public var crashing: Set<String> = []
        public var unreachable = false
        /// Calls the daemon answers with an error (500), by name, with its message.
        public var refusing: [String: String] = [:]
        /// Every change, in order: `POST /swarm/init`, `POST /secrets/create`, `deploy <namespace>`.
        public var changes: [String] = []
        public var calls = 0
        public var deploys = 0
        var next = 1
    }

    public static let nodeID = "fakenode1"
    public let endpointDescription: String
    public let world: Guarded<State>
    let alsoCounting: CallCounter?

    public init(hostname: String, endpoint: String = "unix:///fake/docker.sock") {
        endpointDescription = endpoint
        world = Guarded(State(hostname: hostname, networks: Self.localNetworks))
        alsoCounting = nil
    }

    private init(viewOf base: FakeDockerEngine, alsoCounting: CallCounter) {
        endpointDescription = base.endpointDescription
        world = base.world
        self.alsoCounting = alsoCounting
    }

    static let localNetworks = ["bridge", "host", "none"].map { name in
        DockerNetwork(id: "local-\(name)", name: name, driver: name == "none" ? "null" : name, scope: "local", attachable: false, labels: [:])
    }

    // MARK: What tests do to it

    public var changes: [String] { world.value.changes }
    public var calls: Int { world.value.calls }
    public var deploys: Int { world.value.deploys }
    public var state: State { world.value }

    /// Tasks of `image` fail from now on (and new ones are made to fail too).
    public func crash(image: String, _ crashing: Bool = true) {
        world.withLock { if crashing { $0.crashing.insert(image) } else { $0.crashing.remove(image) } }
    }

    public func setUnreachable(_ unreachable: Bool) { world.withLock { $0.unreachable = unreachable } }

    /// The daemon answers calls named `call` (`POST /secrets/create`) with an error (nil: no more).
    public func refuse(_ call: String, message: String?) { world.withLock { $0.refusing[call] = message } }

    /// Calls named `call` (`POST /secrets/create`) wait until `release(call)`.
    public func hold(_ call: String) { world.hold(call) }
    public func release(_ call: String) { world.release(call) }

    /// Returns once `condition` holds of the changes made and the calls held.
    public func wait(until condition: @escaping @Sendable (_ changes: [String], _ parked: [String: Int]) -> Bool) async {
        await world.wait { condition($0.state.changes, $0.parked) }
    }

    /// The service named `name` as the daemon holds it.
    public func service(named name: String) -> Service? { world.value.services.first { $0.name == name } }

    // MARK: The port

    private func request(_ call: String, managerOnly: Bool = true) throws(DockerError) {
        alsoCounting?.count()
        let (unreachable, active, refusal) = world.withLock { state in
            state.calls += 1
            return (state.unreachable, state.swarmActive, state.refusing[call])
        }
        if unreachable { throw failure(call, .unreachable, "connection refused") }
        if let refusal { throw failure(call, .api(status: 500), refusal) }
        if managerOnly && !active {
            throw failure(
                call, .api(status: 503),
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.")
        }
    }

    private func failure(_ call: String, _ kind: DockerError.Kind, _ message: String) -> DockerError {
        DockerError(endpoint: endpointDescription, call: call, kind: kind, message: message)
    }

    public func info() async throws(DockerError) -> DockerInfo {
        try request("GET /info", managerOnly: false)
        let state = world.value
        return DockerInfo(
            name: state.hostname, swarmState: state.swarmActive ? "active" : "inactive", nodeID: state.swarmActive ? Self.nodeID : "",
            isManager: state.swarmActive, clusterID: state.swarmActive ? "fakecluster" : nil, managerAddresses: [])
    }

    public func initSwarm(advertise: String, listen: String) async throws(DockerError) -> String {
        let call = "POST /swarm/init"
        try request(call, managerOnly: false)
        await world.pass(call)
        try world.withLock { state throws(DockerError) in
            guard !state.swarmActive else { throw failure(call, .api(status: 503), "This node is already part of a swarm.") }
            state.swarmActive = true
            state.networks.append(DockerNetwork(id: "ingress1", name: "ingress", driver: "overlay", scope: "swarm", attachable: false, labels: [:]))
            state.changes.append(call)
        }
        return Self.nodeID
    }

    public func joinTokens() async throws(DockerError) -> (worker: Secret, manager: Secret) {
        try request("GET /swarm")
        return (Secret("SWMTKN-1-fake-worker"), Secret("SWMTKN-1-fake-manager"))
    }

    public func joinSwarm(manager: String, token: Secret, advertise: String, listen: String) async throws(DockerError) {
        try request("POST /swarm/join", managerOnly: false)
        throw failure("POST /swarm/join", .api(status: 503), "this fake is a single-node Swarm: nothing joins it")
    }

    public func nodes() async throws(DockerError) -> [SwarmNode] {
        try request("GET /nodes")
        let state = world.value
        let spec = JSONValue.object([
            ("Role", .string("manager")), ("Availability", .string("active")), ("Labels", Self.object(state.nodeLabels)),
        ])
        return [
            SwarmNode(
                id: Self.nodeID, version: state.nodeVersion, hostname: state.hostname, role: "manager", availability: "active", state: "ready",
                address: "127.0.0.1", labels: state.nodeLabels, spec: spec, isLeader: true)
        ]
    }

    public func updateNode(_ node: SwarmNode, labels: [String: String]) async throws(DockerError) {
        let call = "POST /nodes/\(node.id)/update"
        try request(call)
        try world.withLock { state throws(DockerError) in
            guard node.id == Self.nodeID else { throw failure(call, .api(status: 404), "node \(node.id) not found") }
            guard node.version == state.nodeVersion else { throw failure(call, .api(status: 500), "update out of sequence") }
            state.nodeLabels = labels
            state.nodeVersion += 1
            state.changes.append(call)
        }
    }

    public func removeNode(_ id: String, force: Bool) async throws(DockerError) {
        let call = "DELETE /nodes/\(id)"
        try request(call)
        if id == Self.nodeID { throw failure(call, .api(status: 400), "the local node cannot be removed") }
        throw failure(call, .api(status: 404), "node \(id) not found")
    }

    public func networks() async throws(DockerError) -> [DockerNetwork] {
        try request("GET /networks", managerOnly: false)
        return world.value.networks
    }

    public func createOverlayNetwork(_ name: String, labels: [String: String]) async throws(DockerError) {
        let call = "POST /networks/create"
        try request(call)
        await world.pass(call)
        try world.withLock { state throws(DockerError) in
            guard !state.networks.contains(where: { $0.name == name }) else {
                throw failure(call, .api(status: 409), "network with name \(name) already exists")
            }
            state.networks.append(DockerNetwork(id: Self.id(&state, "net"), name: name, driver: "overlay", scope: "swarm", attachable: true, labels: labels))
            state.changes.append(call)
        }
    }

    public func removeNetwork(_ id: String) async throws(DockerError) {
        let call = "DELETE /networks/\(id)"
        try request(call, managerOnly: false)
        try world.withLock { state throws(DockerError) in
            guard state.networks.contains(where: { $0.id == id }) else { throw failure(call, .api(status: 404), "network \(id) not found") }
            state.networks.removeAll { $0.id == id }
            state.changes.append(call)
        }
    }

    public func secrets() async throws(DockerError) -> [SwarmSecret] {
        try request("GET /secrets")
        return world.value.secrets.map(\.secret)
    }

    public func createSecret(_ name: String, value: Secret, labels: [String: String]) async throws(DockerError) {
        let call = "POST /secrets/create"
        try request(call)
        await world.pass(call)
        try world.withLock { state throws(DockerError) in
            guard !state.secrets.contains(where: { $0.secret.name == name }) else {
                throw failure(call, .api(status: 409), "rpc error: code = AlreadyExists desc = secret \(name) already exists")
            }
            state.secrets.append((SwarmSecret(id: Self.id(&state, "secret"), name: name, labels: labels), value))
            state.changes.append(call)
        }
    }

    public func removeSecret(_ id: String) async throws(DockerError) {
        let call = "DELETE /secrets/\(id)"
        try request(call)
        try world.withLock { state throws(DockerError) in
            guard let secret = state.secrets.first(where: { $0.secret.id == id })?.secret else {
                throw failure(call, .api(status: 404), "secret \(id) not found")
            }
            if let user = state.services.first(where: { Self.secretIDs(of: $0.spec).contains(id) }) {
                throw failure(call, .api(status: 400), "rpc error: code = InvalidArgument desc = secret '\(secret.name)' is in use by service '\(user.name)'")
            }
            state.secrets.removeAll { $0.secret.id == id }
            state.changes.append(call)
        }
    }

    public func services(label: String?) async throws(DockerError) -> [SwarmService] {
        try request("GET /services")
        let pair = label.map { $0.split(separator: "=", maxSplits: 1).map(String.init) }
        return world.value.services.filter { service in
            guard let pair else { return true }
            return pair.count == 2 ? service.labels[pair[0]] == pair[1] : service.labels[pair[0]] != nil
        }.map(Self.listed)
    }

    public func createService(spec: JSONValue) async throws(DockerError) {
        let call = "POST /services/create"
        try request(call)
        try world.withLock { state throws(DockerError) in
            let name = spec["Name"]?.stringValue ?? ""
            guard !state.services.contains(where: { $0.name == name }) else { throw failure(call, .api(status: 409), "service \(name) already exists") }
            let service = Service(id: Self.id(&state, "service"), version: 1, spec: spec)
            state.services.append(service)
            Self.schedule(&state, service)
            state.changes.append(call)
        }
    }

    public func updateService(_ service: SwarmService, spec: JSONValue) async throws(DockerError) {
        let call = "POST /services/\(service.id)/update"
        try request(call)
        try world.withLock { state throws(DockerError) in try Self.update(&state, service, spec: spec, call: call, engine: self) }
    }

    public func rollbackService(_ service: SwarmService) async throws(DockerError) {
        let call = "POST /services/\(service.id)/update"
        try request(call)
        try world.withLock { state throws(DockerError) in
            guard let previous = state.services.first(where: { $0.id == service.id })?.previousSpec else {
                throw failure(call, .api(status: 400), "service \(service.name) has no previous spec to roll back to")
            }
            try Self.update(&state, service, spec: previous, call: call + " (rollback)", engine: self, state: "rollback_completed")
        }
    }

    public func removeService(_ id: String) async throws(DockerError) {
        let call = "DELETE /services/\(id)"
        try request(call)
        try world.withLock { state throws(DockerError) in
            guard state.services.contains(where: { $0.id == id }) else { throw failure(call, .api(status: 404), "service \(id) not found") }
            state.services.removeAll { $0.id == id }
            state.tasks.removeAll { $0.serviceID == id }
            state.changes.append(call)
        }
    }

    public func tasks(services: [String]) async throws(DockerError) -> [SwarmTask] {
        try request("GET /tasks")
        return world.value.tasks.filter { services.isEmpty || services.contains($0.serviceID) }
    }

    public func counting(into counter: CallCounter) -> any DockerEngine { FakeDockerEngine(viewOf: self, alsoCounting: counter) }

    public func shutdown() async {}

    // MARK: Inside the daemon

    static func id(_ state: inout State, _ prefix: String) -> String {
        defer { state.next += 1 }
        return "\(prefix)\(state.next)"
    }

    static func object(_ map: [String: String]) -> JSONValue { .object(map.keys.sorted().map { ($0, .string(map[$0]!)) }) }

    static func listed(_ service: Service) -> SwarmService {
        SwarmService(
            id: service.id, name: service.name, version: service.version, spec: service.spec, previousSpec: service.previousSpec,
            updateState: service.updateState, updateMessage: nil, updatedAt: "")
    }

    static func secretIDs(of spec: JSONValue) -> [String] {
        (spec["TaskTemplate"]?["ContainerSpec"]?["Secrets"]?.arrayItems ?? []).compactMap { $0["SecretID"]?.stringValue }
    }

    static func update(
        _ state: inout State, _ service: SwarmService, spec: JSONValue, call: String, engine: FakeDockerEngine, state updateState: String = "completed"
    ) throws(DockerError) {
        guard let index = state.services.firstIndex(where: { $0.id == service.id }) else {
            throw engine.failure(call, .api(status: 404), "service \(service.id) not found")
        }
        guard state.services[index].version == service.version else { throw engine.failure(call, .api(status: 500), "update out of sequence") }
        state.services[index].previousSpec = state.services[index].spec
        state.services[index].spec = spec
        state.services[index].version += 1
        state.services[index].updateState = updateState
        schedule(&state, state.services[index])
        state.changes.append(call)
    }

    /// The service's tasks after a change: the old ones shut down, a new one per replica, running
    /// (or, for a crashing image, three that failed: Docker's restarts, as the converge wait sees them).
    static func schedule(_ state: inout State, _ service: Service) {
        state.tasks = state.tasks.map { task in
            guard task.serviceID == service.id, task.desiredState == "running" else { return task }
            return SwarmTask(
                id: task.id, serviceID: task.serviceID, nodeID: task.nodeID, slot: task.slot, desiredState: "shutdown", state: "shutdown", error: nil,
                message: "shutdown", exitCode: 0, timestamp: task.timestamp, spec: task.spec)
        }
        let template = service.spec["TaskTemplate"] ?? .object([])
        let image = template["ContainerSpec"]?["Image"]?.stringValue ?? ""
        let replicas = service.spec["Mode"]?["Replicated"]?["Replicas"]?.intValue ?? 1
        if state.crashing.contains(image) {
            for attempt in 0..<3 {
                state.tasks.append(
                    SwarmTask(
                        id: id(&state, "task"), serviceID: service.id, nodeID: nodeID, slot: 1, desiredState: attempt == 2 ? "running" : "shutdown",
                        state: "failed", error: "task: non-zero exit (1)", message: "started", exitCode: 1, timestamp: "", spec: template))
            }
            return
        }
        for slot in 1...max(1, replicas) {
            state.tasks.append(
                SwarmTask(
                    id: id(&state, "task"), serviceID: service.id, nodeID: nodeID, slot: slot, desiredState: "running", state: "running", error: nil,
                    message: "started", exitCode: nil, timestamp: "", spec: template))
        }
    }
}
