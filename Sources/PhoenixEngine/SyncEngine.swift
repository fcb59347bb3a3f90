import Foundation
import PhoenixCore

/// A failure that stops a command before it changes anything.
public enum EngineError: Error, CustomStringConvertible {
    case state(StateError)
    case observe(resource: String, MachineError)
    /// A rollback refused before any change: these files were kept only as keyed hashes (they may
    /// hold secrets) and are no longer as `run` left them, so phoenix cannot put them back.
    case notRestorable(run: Int64, changed: [String], deleted: [String])

    public var description: String {
        switch self {
        case let .state(error): return error.description
        case let .observe(resource, error): return "cannot read the installed \(resource): \(error)"
        case let .notRestorable(run, changed, deleted):
            let which = [(changed, "changed"), (deleted, "deleted")].filter { !$0.0.isEmpty }.map { "\($0.0.joined(separator: ", ")) (\($0.1) since)" }
            return "rollback to run \(run) refused, nothing was changed: \(which.joined(separator: "; ")) may hold secrets, so the state store kept "
                + "only a keyed hash of what run \(run) installed, not the contents to put back; check the stack files out as they were at run "
                + "\(run) and run phoenix sync files"
        }
    }
}

/// How one unit fared in a sync.
public struct UnitOutcome: Sendable {
    public enum Status: String, Sendable {
        case converged
        case failed
        /// Not attempted because a unit it depends on failed.
        case blocked
    }

    public let unit: ServiceUnit
    public let status: Status
    public let resources: [String]
    public let message: String
    public let seconds: Double
    /// The reloads and restarts this unit's service went through (a restore adds one).
    public var activations = 0
    /// The calls its machine took while it converged.
    public var calls = 0

    public init(unit: ServiceUnit, status: Status, resources: [String], message: String, seconds: Double) {
        self.unit = unit
        self.status = status
        self.resources = resources
        self.message = message
        self.seconds = seconds
    }
}

/// The result of `sync` or `rollback`.
public struct SyncOutcome: Sendable {
    public let run: Int64?
    public let plan: Plan
    public let units: [UnitOutcome]
    /// Runs found interrupted when this one started.
    public let interrupted: [RunRecord]

    public var succeeded: Bool { units.allSatisfy { $0.status == .converged } }

    public init(run: Int64?, plan: Plan, units: [UnitOutcome], interrupted: [RunRecord]) {
        self.run = run
        self.plan = plan
        self.units = units
        self.interrupted = interrupted
    }

    /// Outcomes of passes of one run (stages converged apart), as one.
    public init(merging outcomes: [SyncOutcome]) {
        self.init(
            run: outcomes.first?.run, plan: Plan(merging: outcomes.map(\.plan)), units: outcomes.flatMap(\.units).sorted { $0.unit < $1.unit },
            interrupted: outcomes.first?.interrupted ?? [])
    }

    /// The run's outcome in `history`: succeeded, failed or no changes.
    public var runOutcome: RunOutcome { plan.hasChanges ? (succeeded ? .succeeded : .failed) : .noChanges }

    /// The run's summary in `history`.
    public var summary: String {
        guard plan.hasChanges else { return "no changes" }
        let failed = units.filter { $0.status != .converged }
        let listed = plan.pending.prefix(6).map { "\($0.action.rawValue) \($0.id)" }.joined(separator: ", ")
        return "\(plan.pending.count) changes in \(units.count) units: \(units.count - failed.count) converged, \(failed.count) failed ("
            + listed + (plan.pending.count > 6 ? ", and \(plan.pending.count - 6) more)" : ")")
    }
}

/// Plans and applies the host-side stages against real machines, recording everything in the state store.
public struct SyncEngine: Sendable {
    public let estate: Estate
    public let machines: Machines
    public let nodeName: String
    public var timeouts = Timeouts()
    public var parallelism = 4
    public var reporter: any ProgressReporter = SilentProgress()
    /// The stack files (read by the caller from the stacks directory) and where they are, for rsync.
    public var stackFiles: [StackFile] = []
    public var stacksDirectory: String?
    /// `--target`: only these guests' own resources are planned, applied or compared (nil: all).
    public var scope: GuestScope?

    public init(estate: Estate, machines: Machines, nodeName: String) {
        self.estate = estate
        self.machines = machines
        self.nodeName = nodeName
    }

    /// The desired resources; reads the Step-CA root the trust stage installs from the host.
    public func desired(_ stages: [SyncStage]) async throws(EngineError) -> DesiredState {
        var inputs = SyncInputs(stackFiles: stackFiles)
        if stages.contains(.trust) {
            do { inputs.caRoot = try await machines.host.read(estate.settings.trustSource) } catch {
                throw .observe(resource: "trust:ca-root (its source \(estate.settings.trustSource))", error)
            }
        }
        var desired = DesiredState(estate: estate, stages: stages, nodeName: nodeName, inputs: inputs)
        if let scope {
            desired.resources.removeAll { !scope.contains(id: $0.id, target: $0.target) }
            let guests = scope.guests.sorted().map(String.init).joined(separator: ", ")
            desired.notes.append("limited to guest \(guests) (--target): host-wide resources such as DNS records and the cluster firewall are left as they are")
        }
        return desired
    }

    /// Reads what is installed for every resource (desired, or applied earlier in these stages): one
    /// bulk read per machine, all machines at once.
    public func observe(_ resources: [(id: String, target: RenderedFile.Target, path: String)]) async throws(EngineError) -> [String: String?] {
        let byTarget = Dictionary(grouping: resources, by: \.target)
        let targets = Array(byTarget.keys)
        let machines = self.machines
        let results = await withTaskGroup(of: (Int, Result<[String: String?], MachineError>).self) { group in
            for (index, target) in targets.enumerated() {
                let paths = Array(Set(byTarget[target]!.map(\.path))).sorted()
                group.addTask {
                    do throws(MachineError) {
                        return (index, .success(try await machines.machine(for: target).read(all: paths)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var collected: [(Int, Result<[String: String?], MachineError>)] = []
            for await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var actual: [String: String?] = [:]
        for (target, result) in zip(targets, results) {
            switch result {
            case let .success(contents):
                for resource in byTarget[target]! { actual[resource.id] = contents[resource.path] ?? nil }
            case let .failure(error):
                throw .observe(resource: byTarget[target]!.map(\.id).sorted().joined(separator: ", "), error)
            }
        }
        return actual
    }

    /// - Parameter also: records read besides (what a rollback's run left without contents).
    func observe(
        desired resources: [Resource], also records: [AppliedRecord] = [], applied: [String: AppliedRecord], stages: Set<SyncStage>
    ) async throws(EngineError) -> [String: String?] {
        let extra = records + applied.values.filter { stages.contains($0.unit.stage) }
        var seen = Set(resources.map(\.id))
        let wanted =
            resources.map { ($0.id, $0.target, $0.path) }
            + extra.filter { seen.insert($0.id).inserted }.map { ($0.id, $0.unit.target, $0.path) }
        return try await observe(wanted)
    }

    /// What phoenix last applied, within `scope`: outside it nothing is compared, so nothing is deleted.
    func applied(_ store: (any StateBackend)?) async throws(EngineError) -> [String: AppliedRecord] {
        let all = try await Self.applied(store)
        guard let scope else { return all }
        return all.filter { scope.contains(id: $0.key, target: $0.value.unit.target) }
    }

    static func applied(_ store: (any StateBackend)?) async throws(EngineError) -> [String: AppliedRecord] {
        guard let store else { return [:] }
        do { return try await store.applied() } catch { throw .state(error) }
    }
}
