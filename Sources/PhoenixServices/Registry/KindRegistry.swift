import Foundation
import PhoenixCore
import PhoenixEngine

/// What a kind's registration gets to set itself up for a run: the configuration, the options of
/// the command, and the adapters to the real systems (made by the caller, shut down by it).
public struct KindEnvironment: Sendable {
    public let estate: Estate
    public let stages: [SyncStage]
    /// What the run asks of every system: the kinds count into it.
    public let stats: RunStats
    public var parallelism = 4
    public var failpoints = Failpoints.none
    /// `--target`: only these guests' own resources.
    public var scope: GuestScope?
    /// The kinds' own settings (`--force NAME`, `--prune`, `--reboot`, `--firewall-through api`),
    /// each under a key its kind declares.
    public var options = KindOptions()
    /// Read every resource afresh, even what the state store says is unchanged (drift, `--refresh`).
    public var refresh = false
    /// The Proxmox API, when the command names one.
    public var proxmox: (any ProxmoxAPI)?
    /// Why the kinds that need the API cannot run without it.
    public var withoutAPI = "needs the Proxmox API: name it with --api https://host:8006 (or $PHOENIX_API) and a token file"
    /// The file engine over the command's machines (its stack files read from the stacks directory).
    public var engine: (@Sendable () -> SyncEngine)?
    /// The host and guests, for kinds that install files of their own (the certificates).
    public var machines: (@Sendable () -> Machines)?
    /// One Engine API client per Swarm member's daemon.
    public var swarm: SwarmConnections?
    /// The Swarm secrets fed by certificates: what is installed now, then what the certs kind installs.
    public var feed = CertificateFeed()
    /// What several kinds of one run set up together, made once (the Swarm's secret versions and
    /// its stack deployer, shared by the swarm, Portainer and stacks kinds).
    public let shared = SharedSetup()

    public init(estate: Estate, stages: [SyncStage], stats: RunStats) {
        self.estate = estate
        self.stages = stages
        self.stats = stats
    }

    /// An executor with the command's limits and failpoints.
    public func executor(limits: ExecutionLimits? = nil) -> Executor {
        Executor(limits: limits ?? ExecutionLimits(parallelism: parallelism), failpoints: failpoints)
    }

    public func asks(_ stage: SyncStage) -> Bool { stages.contains(stage) }
}

/// Values several kinds of a run share, each made by the first kind that asks for it.
public actor SharedSetup {
    private var values: [String: Task<any Sendable, Never>] = [:]

    public init() {}

    public func value<T: Sendable>(_ key: String, make: @escaping @Sendable () async -> T) async -> T {
        let task = values[key] ?? Task { await make() }
        values[key] = task
        return await task.value as! T
    }
}

/// How a kind takes part in a run: its runner, why it cannot run here (its stages are planned as
/// not applied, with the reason), or nothing (none of its stages asked for).
public struct KindSetup: Sendable {
    public var runner: (any KindRunner)?
    public var notApplied: [(stage: SyncStage, reason: String)] = []

    public init(runner: (any KindRunner)? = nil, notApplied: [(stage: SyncStage, reason: String)] = []) {
        self.runner = runner
        self.notApplied = notApplied
    }

    public static let none = KindSetup()
}

/// A kind as phoenix knows it: its resources (data only, for `graph --resources` and the run's
/// graph) and how it sets itself up for a run. Each kind's folder declares its own.
public struct KindRegistration: Sendable {
    public let kind: any ResourceKind
    public let setUp: @Sendable (KindEnvironment) async -> KindSetup

    public init(kind: any ResourceKind, setUp: @escaping @Sendable (KindEnvironment) async -> KindSetup) {
        self.kind = kind
        self.setUp = setUp
    }
}

/// Every kind phoenix converges, in the order their output is shown. A new kind is its folder and
/// one line here (docs/adding-a-kind.md).
public struct KindRegistry: Sendable {
    public var registrations: [KindRegistration]

    public init(_ registrations: [KindRegistration]) { self.registrations = registrations }

    public static let standard = KindRegistry([
        GuestSettings.registration,
        FilesKind.registration,
        APIFirewallKind.registration,
        CertConvergence.registration,
        SwarmConvergence.registration,
        PortainerServices.registration,
        StacksKind.registration,
    ])

    /// The kinds' resources, data only.
    public var kinds: [any ResourceKind] { registrations.map(\.kind) }

    /// Every stage of the registered kinds, in order: what `phoenix sync` and `all` name.
    public var stages: [SyncStage] { Array(Set(kinds.flatMap(\.stages))).sorted() }

    /// The registered stage named `name`.
    public func stage(named name: String) -> SyncStage? { stages.first { $0.rawValue == name } }

    /// Every resource the registered kinds declare for `stages` with the kinds' `options`, and what
    /// each needs (`graph --resources`).
    public func graph(estate: Estate, stages: [SyncStage], options: KindOptions) -> ResourceGraph {
        ResourceGraph(context: ResourceGraphContext(estate: estate, stages: Set(stages), options: options), kinds: kinds)
    }

    /// Adds a kind (a test's, or a plug-in's).
    public func adding(_ registration: KindRegistration) -> KindRegistry { KindRegistry(registrations + [registration]) }
}

extension SyncService {
    /// The service for `environment`'s stages with every registered kind that takes part: each
    /// kind's runner, or the stages it cannot converge here with why.
    public static func assemble(_ environment: KindEnvironment, registry: KindRegistry = .standard) async -> SyncService {
        var service = SyncService(estate: environment.estate, stages: environment.stages)
        service.stats = environment.stats
        service.scope = environment.scope
        service.options = environment.options
        for registration in registry.registrations {
            let setup = await registration.setUp(environment)
            if let runner = setup.runner { service.runners.append(runner) }
            service.notApplied += setup.notApplied
        }
        return service
    }
}
