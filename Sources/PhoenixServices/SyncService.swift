import Foundation
import PhoenixCore
import PhoenixEngine

/// `plan` and `sync` of every kind phoenix manages, in one run: each kind's runner (the guests'
/// settings, the files, the firewall's rule sets through the API, …) goes at once, and a resource
/// waits only for the resources of other kinds it needs in the resource graph. A resource whose
/// dependency failed is blocked; the others go on.
public struct SyncService: Sendable {
    public let estate: Estate
    public let stages: [SyncStage]
    /// One runner per kind in this run, in the order their output is shown.
    public var runners: [any KindRunner] = []
    /// Stages asked for that no runner can take here (the guests without the API), with why.
    public var notApplied: [(stage: SyncStage, reason: String)] = []
    /// The kinds' own settings, as the run's environment had them (the graph is drawn with them).
    public var options = KindOptions()
    /// `--target`: only these guests' own resources (nil: all).
    public var scope: GuestScope?
    /// What the run asks of every system, for `--stats`: every kind counts into it.
    public var stats = RunStats()
    /// Progress lines for people.
    public var progress: @Sendable (String) -> Void = { _ in }
    /// Stops a run at the next boundary between resources (the agent: a newer commit, a shutdown).
    public var control: RunControl?
    /// Told as each resource of a run settles.
    public var settled: (@Sendable (ResourceSettled) -> Void)?
    /// How long a run waits while another holds the lock (nil: it is refused at once).
    public var lockWait: LockWait?

    public init(estate: Estate, stages: [SyncStage]) {
        self.estate = estate
        self.stages = stages
    }

    /// What a plan or a sync found and did, kind by kind.
    public struct Outcome: Sendable {
        public var run: Int64?
        public var interrupted: [RunRecord] = []
        /// One report per runner, in the runners' order.
        public var reports: [any KindReport] = []
        public var notApplied: [(stage: SyncStage, reason: String)] = []
        /// What the run asked of every system.
        public var stats = RunStats()
        /// Why the run stopped before it finished, when it was asked to.
        public var stopped: RunControl.Reason?
        /// A rollback's notes: what kinds without a rollback changed since, which it leaves as it is.
        public var notRestored: [String] = []

        /// The stages in which a resource changed, would change or failed, and those of a kind that
        /// could not run at all (every stage holding one of its resources in `graph`).
        public func touchedStages(_ graph: ResourceGraph) -> Set<SyncStage> {
            let results = reports.flatMap(\.results).filter { $0.outcome != .unchanged }.map(\.stage)
            let failedKinds = Set(reports.filter { $0.error != nil }.map(\.kind))
            return Set(results).union(graph.nodes.filter { failedKinds.contains($0.kind) }.map(\.stage))
        }

        /// The report of the kind whose report is of type `R` (a kind's own command renders it).
        public func report<R: KindReport>(_ type: R.Type) -> R? { reports.lazy.compactMap { $0 as? R }.first }

        public var succeeded: Bool { reports.allSatisfy { $0.error == nil && $0.failures.isEmpty } }

        /// The kinds whose plan could not be computed (a system that cannot be read, a resource
        /// that cannot be decided): a plan with any is incomplete, never "no changes".
        public var unplanned: [String] {
            reports.filter { $0.error != nil || !$0.failures.isEmpty }.map(\.kind)
        }

        /// Whether anything differs from the configuration (a plan) or was changed (a sync).
        public var hasChanges: Bool { reports.contains { $0.hasChanges } }

        public var runOutcome: RunOutcome {
            switch stopped {
            case .superseded?: return .superseded
            case .shutdown?: return .interrupted
            case nil: return succeeded ? (hasChanges ? .succeeded : .noChanges) : rolledBack ? .rolledBack : .failed
            }
        }

        /// Every change that failed was undone (a whole-stack rollback, a restore after a failed
        /// check), and what failed otherwise was only blocked or never started: what ran before
        /// serves again.
        public var rolledBack: Bool {
            let failures = reports.flatMap(\.results).compactMap(\.failure)
            guard reports.allSatisfy({ $0.error == nil }), failures.contains(where: { $0.restore?.isRestored == true }) else { return false }
            return failures.allSatisfy { failure in
                switch failure.failure {
                case .blocked, .stopped: return true
                default: return failure.restore?.isRestored == true
                }
            }
        }

        var summary: String {
            let parts = reports.compactMap(\.summary)
            let done = parts.isEmpty ? "no changes" : parts.joined(separator: "; ")
            // A run asked to stop says so first: what did not start is for the next run.
            return stopped.map { "\($0): \(done)" } ?? done
        }
    }

    /// Every resource of the run and what it needs, from the kinds of the runners.
    public func graph() -> ResourceGraph {
        ResourceGraph(context: ResourceGraphContext(estate: estate, stages: Set(stages), options: options), kinds: runners.map(\.kind), scope: scope)
    }

    /// The kinds' context of a plan (no run) or of run `run`.
    func context(
        graph: ResourceGraph, store: (any StateBackend)?, run: Int64? = nil, unfinished: Set<String> = [], waiter: ResourceWaiter? = nil
    ) -> KindContext {
        var waitFor: (@Sendable (String) async -> ResourceError?)?
        if let waiter { waitFor = { id in await waiter.errors(waitingFor: [id])[id] } }
        return KindContext(
            estate: estate, stages: Set(stages), graph: graph, store: store, run: run, unfinished: unfinished, scope: scope, stats: stats,
            progress: progress, waitFor: waitFor, control: run == nil ? nil : control, settled: run == nil ? nil : settled)
    }

    /// What sync would do. Writes nothing: not the cluster, not the machines, not the state store.
    public func plan(store: (any StateBackend)?) async throws -> Outcome {
        var outcome = Outcome(notApplied: notApplied)
        outcome.stats = stats
        let context = context(graph: graph(), store: store)
        outcome.reports = try await withThrowingTaskGroup(of: (Int, any KindReport).self) { group in
            for (index, runner) in runners.enumerated() { group.addTask { (index, try await runner.plan(context)) } }
            var reports: [(Int, any KindReport)] = []
            for try await report in group { reports.append(report) }
            return reports.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return outcome
    }

    /// Converges every kind in one run under the sync lock; the run is finished here. Every runner
    /// starts at once; each resource waits for what it needs of other kinds (the graph's edges).
    /// `queued`: a run the agent recorded before it started (its id was already given out).
    public func sync(store: any StateBackend, command: String, queued: Int64? = nil) async throws -> Outcome {
        let (run, interrupted) =
            if let queued {
                try await store.beginRun(queued: queued, pid: getpid())
            } else {
                try await store.beginRun(command: command, waiting: lockWait)
            }
        var outcome = Outcome(run: run, interrupted: interrupted, notApplied: notApplied)
        outcome.stats = stats
        do {
            let graph = graph()
            let waiter = ResourceWaiter(graph: graph)
            let unfinished = try await store.unfinishedResources(in: interrupted.map(\.id))
            let context = RunContext(
                kind: self.context(graph: graph, store: store, run: run, unfinished: unfinished, waiter: waiter), interrupted: interrupted,
                resources: waiter)
            outcome.reports = try await withThrowingTaskGroup(of: (Int, any KindReport).self) { group in
                for (index, runner) in runners.enumerated() {
                    group.addTask {
                        let report = try await runner.sync(context)
                        // Whatever this kind did not get to is settled as failed: nothing waits forever.
                        await context.resources.failAll(
                            kind: runner.kind.name,
                            report.failure ?? .bug("the \(runner.kind.name) kind ended before it settled this resource"))
                        return (index, report)
                    }
                }
                var reports: [(Int, any KindReport)] = []
                for try await report in group { reports.append(report) }
                return reports.sorted { $0.0 < $1.0 }.map(\.1)
            }
            // A failpoint crash in-process: the run stays open, as a dead process leaves it.
            if outcome.reports.contains(where: \.abandoned) { throw RunAbandoned(run: run) }
            outcome.stopped = control?.stopReason
            try await store.finishRun(run, outcome: outcome.runOutcome, summary: outcome.summary, stages: outcome.touchedStages(graph))
            return outcome
        } catch let abandoned as RunAbandoned {
            throw abandoned
        } catch {
            try? await store.finishRun(run, outcome: .failed, summary: "\(error)")
            throw error
        }
    }

    /// Every kind's drift, each kind at once: what is there beside what phoenix recorded and what
    /// the configuration asks. Runners that check no drift are left out.
    public func drift(store: (any StateBackend)?) async throws -> [KindDrift] {
        let graph = graph()
        let context = context(graph: graph, store: store)
        let checked = try await withThrowingTaskGroup(of: (Int, KindDrift?).self) { group in
            for (index, runner) in runners.enumerated() { group.addTask { (index, try await runner.drift(context)) } }
            var drifts: [(Int, KindDrift?)] = []
            for try await drift in group { drifts.append(drift) }
            return drifts.sorted { $0.0 < $1.0 }.compactMap(\.1)
        }
        // A kind with resources here and no drift check is named, not left out.
        let unchecked = runners.filter { !$0.checksDrift }.compactMap { runner -> KindDrift? in
            let count = graph.nodes.filter { $0.kind == runner.kind.name }.count
            return count == 0 ? nil : KindDrift.notChecked(kind: runner.kind.name, resources: count)
        }
        return checked + unchecked
    }

    /// Puts back what run `target` left, kind by kind, in one run under the lock. What a kind
    /// without a rollback (or one that cannot run here) changed since is named in `notRestored`,
    /// each kind in its own words, never passed over in silence.
    public func rollback(to target: Int64, store: any StateBackend, command: String) async throws -> Outcome {
        // What each kind changed after that run, by the journal (read before this run's own).
        var changed: [String: Set<String>] = [:]
        for record in try await store.runs(limit: 100_000, before: nil) where record.id > target {
            for entry in try await store.journal(run: record.id) where entry.phase == .verified && !entry.kind.isEmpty {
                changed[entry.kind, default: []].insert(entry.resource)
            }
        }
        let (run, interrupted) = try await store.beginRun(command: command, waiting: lockWait)
        var outcome = Outcome(run: run, interrupted: interrupted)
        outcome.stats = stats
        do {
            let graph = graph()
            // A stage that cannot run here matters to a rollback only when something of it changed since.
            let changedStages = Set(graph.nodes.filter { changed[$0.kind]?.contains($0.id) == true }.map(\.stage))
            outcome.notApplied = notApplied.filter { changedStages.contains($0.stage) }
            let waiter = ResourceWaiter(graph: graph)
            let unfinished = try await store.unfinishedResources(in: interrupted.map(\.id))
            let context = RunContext(
                kind: self.context(graph: graph, store: store, run: run, unfinished: unfinished, waiter: waiter), interrupted: interrupted,
                resources: waiter)
            let reports = try await withThrowingTaskGroup(of: (Int, (any KindReport)?).self) { group in
                for (index, runner) in runners.enumerated() {
                    group.addTask {
                        let report = try await runner.rollback(to: target, context)
                        // A kind without a rollback leaves its resources as they are: what needs them
                        // (a guest's files, a service's certificate) is put back all the same.
                        if let report {
                            await context.resources.failAll(
                                kind: runner.kind.name, report.failure ?? .bug("the \(runner.kind.name) kind ended before it settled this resource"))
                        } else {
                            await context.resources.leaveAll(kind: runner.kind.name)
                        }
                        return (index, report)
                    }
                }
                var reports: [(Int, (any KindReport)?)] = []
                for try await report in group { reports.append(report) }
                return reports.sorted { $0.0 < $1.0 }.map(\.1)
            }
            for (runner, report) in zip(runners, reports) where report == nil {
                guard let ids = changed[runner.kind.name], !ids.isEmpty else { continue }
                outcome.notRestored.append(runner.notRestored(ids.sorted(), since: target))
            }
            // Kinds that changed something since and are not in this run at all (their system is not named).
            let present = Set(runners.map(\.kind.name))
            for (kind, ids) in changed.sorted(by: { $0.key < $1.key }) where !present.contains(kind) {
                outcome.notRestored.append(
                    "\(ids.sorted().joined(separator: ", ")) (changed since run \(target)) stay as they are: the \(kind) kind does not run here")
            }
            outcome.reports = reports.compactMap { $0 }
            if outcome.reports.contains(where: \.abandoned) { throw RunAbandoned(run: run) }
            try await store.finishRun(run, outcome: outcome.runOutcome, summary: outcome.summary, stages: outcome.touchedStages(graph))
            return outcome
        } catch let abandoned as RunAbandoned {
            throw abandoned
        } catch {
            try? await store.finishRun(run, outcome: .failed, summary: "\(error)")
            throw error
        }
    }

    /// A failpoint crash stopped run `run` in-process (tests): it was left open, as a crash leaves it.
    public struct RunAbandoned: Error, CustomStringConvertible {
        public let run: Int64
        public var description: String { "run \(run) was abandoned at a failpoint crash" }
    }

}

extension SyncService.Outcome {
    /// The plan or the run as `plan --format json` and `sync --format json` print it, and as the
    /// agent records it: each kind's part in the registry's order, the stages not applied first.
    public func json() -> JSONValue {
        let context = ReportContext(run: run, interrupted: interrupted, paint: Paint(enabled: false))
        var document = reports.reduce(JSONValue.object([("version", .number(1))])) { $1.merge(into: $0, context: context) }
        if !notApplied.isEmpty {
            let listed = document["not_applied"]?.arrayItems ?? []
            let more = notApplied.map { JSONValue.object([("stage", .string($0.stage.rawValue)), ("reason", .string($0.reason))]) }
            document = document.setting("not_applied", .array(more + listed))
        }
        if run != nil { document = document.setting("succeeded", .bool(succeeded)) }
        return document
    }
}
