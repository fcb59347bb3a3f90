/// What `/info` says of the daemon and its place in a Swarm.
public struct DockerInfo: Sendable, Equatable {
    /// The daemon's host name (the Swarm node's name).
    public let name: String
    /// `inactive`, `pending`, `active`, `error`, `locked`.
    public let swarmState: String
    public let nodeID: String
    /// This daemon is a manager.
    public let isManager: Bool
    public let clusterID: String?
    /// The managers' addresses this node knows (`RemoteManagers`).
    public let managerAddresses: [String]

    public init(name: String, swarmState: String, nodeID: String, isManager: Bool, clusterID: String?, managerAddresses: [String]) {
        self.name = name
        self.swarmState = swarmState
        self.nodeID = nodeID
        self.isManager = isManager
        self.clusterID = clusterID
        self.managerAddresses = managerAddresses
    }
}

/// A node as the manager lists it.
public struct SwarmNode: Sendable, Equatable {
    public let id: String
    public let version: Int
    public let hostname: String
    public let role: String
    public let availability: String
    /// `ready`, `down`, `unknown`, `disconnected`.
    public let state: String
    public let address: String
    public let labels: [String: String]
    /// The node's spec as Docker holds it (updated whole).
    public let spec: JSONValue
    public let isLeader: Bool

    public init(
        id: String, version: Int, hostname: String, role: String, availability: String, state: String, address: String, labels: [String: String],
        spec: JSONValue, isLeader: Bool
    ) {
        self.id = id
        self.version = version
        self.hostname = hostname
        self.role = role
        self.availability = availability
        self.state = state
        self.address = address
        self.labels = labels
        self.spec = spec
        self.isLeader = isLeader
    }
}

/// A network as the daemon lists it.
public struct DockerNetwork: Sendable, Equatable {
    public let id: String
    public let name: String
    public let driver: String
    public let scope: String
    public let attachable: Bool
    public let labels: [String: String]

    public init(id: String, name: String, driver: String, scope: String, attachable: Bool, labels: [String: String]) {
        self.id = id
        self.name = name
        self.driver = driver
        self.scope = scope
        self.attachable = attachable
        self.labels = labels
    }
}

/// A Swarm secret as the manager lists it: its name and labels (the value is never read back).
public struct SwarmSecret: Sendable, Equatable {
    public let id: String
    public let name: String
    public let labels: [String: String]

    public init(id: String, name: String, labels: [String: String]) {
        self.id = id
        self.name = name
        self.labels = labels
    }
}

/// A service as the manager lists it: its spec (the parts plan compares), labels and update state.
public struct SwarmService: Sendable, Equatable {
    public let id: String
    public let name: String
    public let version: Int
    public let spec: JSONValue
    public let previousSpec: JSONValue?
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`, `rollback_completed` (nil: never updated).
    public let updateState: String?
    public let updateMessage: String?
    public let updatedAt: String

    public init(
        id: String, name: String, version: Int, spec: JSONValue, previousSpec: JSONValue?, updateState: String?, updateMessage: String?, updatedAt: String
    ) {
        self.id = id
        self.name = name
        self.version = version
        self.spec = spec
        self.previousSpec = previousSpec
        self.updateState = updateState
        self.updateMessage = updateMessage
        self.updatedAt = updatedAt
    }

    public var labels: [String: String] { spec["Labels"]?.stringMap ?? [:] }
    /// `com.docker.stack.namespace`: the stack the service belongs to.
    public var stack: String? { labels["com.docker.stack.namespace"] }
    /// Desired replicas (nil for a global service).
    public var replicas: Int? { spec["Mode"]?["Replicated"]?["Replicas"]?.intValue ?? (spec["Mode"]?["Global"] == nil ? 1 : nil) }
}

/// A task: one replica's attempt, with its state and error.
public struct SwarmTask: Sendable, Equatable {
    public let id: String
    public let serviceID: String
    public let nodeID: String
    public let slot: Int?
    public let desiredState: String
    /// `new` … `starting`, `running`, `complete`, `failed`, `shutdown`, `rejected`, `orphaned`.
    public let state: String
    public let error: String?
    public let message: String
    public let exitCode: Int?
    public let timestamp: String
    /// The task template it was made from (compared with the service's to tell old tasks from new).
    public let spec: JSONValue

    public init(
        id: String, serviceID: String, nodeID: String, slot: Int?, desiredState: String, state: String, error: String?, message: String, exitCode: Int?,
        timestamp: String, spec: JSONValue
    ) {
        self.id = id
        self.serviceID = serviceID
        self.nodeID = nodeID
        self.slot = slot
        self.desiredState = desiredState
        self.state = state
        self.error = error
        self.message = message
        self.exitCode = exitCode
        self.timestamp = timestamp
        self.spec = spec
    }
}
