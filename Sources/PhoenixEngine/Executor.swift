import Foundation
import PhoenixCore
import Synchronization

/// What one kind's plan or sync found and did: the plan, every resource's result, and what each
/// applied step left (for the kind's own report).
public struct KindExecution<K: ConvergentKind>: Sendable {
    public let kind: String
    /// What the kind observed; nil when it could not.
    public var observation: K.Observation?
    /// The plan; nil when the kind could not observe.
    public var plan: KindPlan<K.Change>?
    /// Why the kind could not plan at all.
    public var failure: ResourceFailure?
    /// Every resource of the kind in the run: unchanged, planned, converged or failed, by id.
    public var results: [ResourceResult]
    /// What each step that was applied and verified left, by step id.
    public var applied: [String: K.Applied]
    /// A failpoint crash abandoned the run here (in-process tests only: otherwise the process is gone).
    public var abandoned: Bool

    public init(
        kind: String, observation: K.Observation? = nil, plan: KindPlan<K.Change>?, failure: ResourceFailure? = nil, results: [ResourceResult] = [],
        applied: [String: K.Applied] = [:], abandoned: Bool = false
    ) {
        self.kind = kind
        self.observation = observation
        self.plan = plan
        self.failure = failure
        self.results = results
        self.applied = applied
        self.abandoned = abandoned
    }

    public var failures: [String: ResourceError] {
        Dictionary(uniqueKeysWithValues: results.compactMap { result in result.failure.map { (result.id, $0) } })
    }

    public func result(_ id: String) -> ResourceResult? { results.first { $0.id == id } }
}

/// Converges a kind's plan, the same way for every kind: each step waits for the resources it needs
/// (the graph's edges, across kinds), then runs within the limits — intent in the journal, the
/// `before` failpoint, apply, `applied`, the `after` failpoint, verify, record, `verified` — and a
/// step that fails after it began is restored by its kind. A failed resource blocks what needs it;
/// the others go on. The kind never sees the journal, the failpoints or the limits.
public struct Executor: Sendable {
    public var limits: ExecutionLimits
    public var failpoints: Failpoints

    public init(limits: ExecutionLimits = ExecutionLimits(), failpoints: Failpoints = .none) {
        self.limits = limits
        self.failpoints = failpoints
    }

    /// Observes and plans; changes nothing, not even the state store.
    public func plan<K: ConvergentKind>(_ kind: K, in context: KindContext) async -> KindExecution<K> {
        if let untouched = untargeted(kind, in: context) { return untouched }
        let observation: K.Observation
        do { observation = try await kind.observe(in: context) } catch {
            return KindExecution(kind: kind.name, plan: nil, failure: error, results: failedNodes(of: kind, in: context, error))
        }
        // `--target`: what the run's graph leaves out of the targeted guests' stays as it is.
        var execution = executionOf(kind.plan(observation, in: context).within(context.graph), of: kind, in: context)
        execution.observation = observation
        return execution
    }

    /// `--target` left out every configured resource of the kind: it reads nothing and changes nothing.
    private func untargeted<K: ConvergentKind>(_ kind: K, in context: KindContext) -> KindExecution<K>? {
        let graph = context.graph
        guard graph.excluded.values.contains(kind.name), !graph.nodes.contains(where: { $0.kind == kind.name }) else { return nil }
        return KindExecution(kind: kind.name, plan: KindPlan(), results: [])
    }

    /// A plan as results: each resource unchanged, planned or failed.
    func executionOf<K: ConvergentKind>(_ plan: KindPlan<K.Change>, of kind: K, in context: KindContext) -> KindExecution<K> {
        var results = plan.unchanged.map { result($0, of: kind, in: context, action: .unchanged, outcome: .unchanged) }
        for step in plan.steps {
            results += step.resources.map { result($0, of: kind, in: context, action: step.action, reasons: step.reasons, outcome: .planned) }
        }
        for (id, failure) in plan.failed { results.append(result(id, of: kind, in: context, action: .unchanged, outcome: .failed(ResourceError(failure)))) }
        return KindExecution(kind: kind.name, plan: plan, results: results.sorted { $0.id < $1.id })
    }

    /// Observes, plans and converges within the run of `context` (which has its store and run id),
    /// settling every resource of the kind with `waiter` as soon as it is done.
    public func sync<K: ConvergentKind>(_ kind: K, in context: KindContext, waiter: ResourceWaiter) async -> KindExecution<K> {
        let planned = await plan(kind, in: context)
        return await execute(planned, of: kind, in: context, waiter: waiter)
    }

    /// Puts back what run `run` left: the kind's rollback steps, executed like a sync's (journal,
    /// verification, restore). A kind that cannot says why, and each of its resources fails with it.
    public func rollback<K: RollbackKind>(
        _ kind: K, to run: Int64, in context: KindContext, waiter: ResourceWaiter
    ) async -> KindExecution<K> {
        let planned: KindExecution<K>
        do throws(ResourceFailure) {
            if let untouched = untargeted(kind, in: context) { return untouched }
            let observation = try await kind.observeRollback(to: run, in: context)
            var execution = await executionOf(try kind.rollback(to: run, observation, in: context).within(context.graph), of: kind, in: context)
            execution.observation = observation
            planned = execution
        } catch {
            planned = KindExecution(kind: kind.name, plan: nil, failure: error, results: failedNodes(of: kind, in: context, error))
        }
        return await execute(planned, of: kind, in: context, waiter: waiter)
    }

    /// Every resource of the kind beside what phoenix recorded and what the configuration asks;
    /// nil findings with the reason when the kind cannot be observed.
    public func drift<K: DriftingKind>(_ kind: K, in context: KindContext) async -> KindDrift? {
        do throws(ResourceFailure) {
            let observation = try await kind.observe(in: context)
            return await kind.drift(observation, in: context)
        } catch {
            return KindDrift(kind: kind.name, failure: error)
        }
    }

    /// Converges a plan's steps within the run of `context`.
    func execute<K: ConvergentKind>(
        _ planned: KindExecution<K>, of kind: K, in context: KindContext, waiter: ResourceWaiter
    ) async -> KindExecution<K> {
        guard let store = context.store, let run = context.run else {
            preconditionFailure("the executor converges only within a run: a context with a store and a run id")
        }
        var execution = planned
        guard let plan = execution.plan else {
            for result in execution.results { await waiter.settle(result.id, result.failure) }
            return execution
        }
        // What needs nothing settles at once; what is in the graph but not in this plan (a guest
        // outside --target, a disabled one) holds nothing up.
        let planned = Set(plan.steps.flatMap { $0.resources + $0.companions })
        for id in plan.unchanged {
            await waiter.settle(id, nil)
            context.settled?(ResourceSettled(id: id, kind: kind.name, outcome: "unchanged"))
        }
        for (id, failure) in plan.failed {
            await waiter.settle(id, ResourceError(failure))
            context.settled?(ResourceSettled(id: id, kind: kind.name, outcome: "failed", reason: "\(failure)"))
        }
        for node in context.graph.nodes where node.kind == kind.name && !planned.contains(node.id) && plan.failed[node.id] == nil {
            await waiter.settle(node.id, nil)
        }
        let slots = Slots(limits)
        let outcomes: [StepOutcome<K.Applied>] = await withTaskGroup(of: (Int, StepOutcome<K.Applied>).self) { group in
            for (index, step) in plan.steps.enumerated() {
                group.addTask {
                    let outcome = await self.perform(step, of: kind, in: context, store: store, run: run, waiter: waiter, slots: slots)
                    if let settled = context.settled, !outcome.abandoned {
                        for id in step.resources {
                            settled(
                                ResourceSettled(
                                    id: id, kind: kind.name, outcome: outcome.error == nil ? "converged" : "failed", reason: outcome.error.map { "\($0)" }))
                        }
                    }
                    return (index, outcome)
                }
            }
            var collected: [(Int, StepOutcome<K.Applied>)] = []
            for await outcome in group { collected.append(outcome) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var byID = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        var applied: [String: K.Applied] = [:]
        for (step, outcome) in zip(plan.steps, outcomes) {
            if outcome.abandoned { execution.abandoned = true }
            if let value = outcome.applied, outcome.error == nil { applied[step.id] = value }
            for id in step.resources {
                byID[id]?.outcome = outcome.abandoned ? .planned : outcome.error.map(ResourceOutcome.failed) ?? .converged
                byID[id]?.seconds = outcome.seconds
                byID[id]?.calls = outcome.calls
            }
        }
        execution.results = byID.values.sorted { $0.id < $1.id }
        execution.applied = applied
        if !execution.abandoned, let observation = execution.observation {
            do throws(ResourceFailure) {
                let notes = try await kind.finish(observation, results: execution.results, applied: applied, in: context)
                execution.plan?.notes += notes
            } catch {
                execution.failure = error
            }
        }
        return execution
    }

    /// How one step ended.
    struct StepOutcome<Applied: Sendable>: Sendable {
        var error: ResourceError?
        var applied: Applied?
        var seconds = 0.0
        var calls = 0
        var abandoned = false
    }

    private func perform<K: ConvergentKind>(
        _ step: Step<K.Change>, of kind: K, in context: KindContext, store: any StateBackend, run: Int64, waiter: ResourceWaiter, slots: Slots
    ) async -> StepOutcome<K.Applied> {
        // 1. What it needs, across kinds; a failed need blocks it, unjournalled.
        let own = Set(step.resources)
        let needs = Set(step.resources.flatMap { context.graph.node($0)?.dependsOn ?? [] }).subtracting(own)
        let failedNeeds = await waiter.errors(waitingFor: needs)
        if await slots.isAbandoned { return StepOutcome(abandoned: true) }
        if let (dependency, error) = failedNeeds.min(by: { $0.key < $1.key }) {
            let blocked = ResourceError(.blocked(dependency: dependency, reason: error.description))
            for id in step.resources { await waiter.settle(id, blocked) }
            for id in step.companions { await waiter.settle(id, step.companionsKeptOnFailure ? nil : blocked) }
            return StepOutcome(error: blocked)
        }
        guard await slots.acquire(step.target) else { return StepOutcome(abandoned: true) }
        // 2. The boundary a stopping run stops at: nothing of this step has begun.
        if let reason = context.control?.stopReason {
            await slots.release(step.target)
            let stopped = ResourceError(.stopped(reason: reason.description))
            for id in step.resources + step.companions { await waiter.settle(id, stopped) }
            return StepOutcome(error: stopped)
        }
        let started = Date()
        let stats = RunStats()
        let crashed = CrashFlag()
        let failpoints = self.failpoints
        let stepContext = StepContext(
            kind: context, store: store, run: run, stats: stats,
            waitFor: { id in
                // The slot is given up while waiting: what this step waits for may need one.
                await slots.release(step.target)
                let error = await waiter.errors(waitingFor: [id])[id]
                _ = await slots.acquire(step.target)
                return error
            },
            settle: { id, error in if step.companions.contains(id) { await waiter.settle(id, error) } },
            checkpoint: { phase throws(ResourceFailure) in
                guard let phase = Failpoints.Phase(rawValue: phase) else { throw .bug("no failpoint phase \(phase)") }
                switch step.resources.lazy.compactMap({ failpoints.check($0, phase) }).first {
                case .crash?:
                    crashed.set()
                    throw .stopped(reason: "the run was abandoned at a failpoint crash")
                case let .error(name)?: throw .injected(failpoint: name)
                case nil: return
                }
            })
        var outcome = await converge(step, of: kind, in: stepContext, crashed: crashed)
        if crashed.isSet { outcome = StepOutcome(abandoned: true) }
        await slots.release(step.target)
        outcome.seconds = Date().timeIntervalSince(started)
        outcome.calls = stats.roundTrips
        for counter in RunStats.Counter.allCases { context.stats.count(counter, stats[counter]) }
        if outcome.abandoned {
            // A crash in-process: nothing more starts, and what waits on this step stops waiting.
            await slots.abandon()
            let abandoned = ResourceError(.stopped(reason: "the run was abandoned at a failpoint crash"))
            for id in step.resources + step.companions { await waiter.settle(id, abandoned) }
        } else {
            for id in step.resources { await waiter.settle(id, outcome.error) }
            for id in step.companions { await waiter.settle(id, step.companionsKeptOnFailure ? nil : outcome.error) }
        }
        return outcome
    }

    /// The journalled life of one step: intent, before, apply, applied, after, verify, record,
    /// verified; a failure after apply began is restored by the kind — unless it is the step's own
    /// checkpoint crashing (`crashed`), which stops the step as it is, as a dead process would.
    private func converge<K: ConvergentKind>(
        _ step: Step<K.Change>, of kind: K, in context: StepContext, crashed: CrashFlag
    ) async -> StepOutcome<K.Applied> {
        func journal(_ phase: JournalPhase, _ detail: String, digest: String? = nil) async -> StateError? {
            let entries = step.resources.map { id in
                let note = step.journalNotes[id]
                return JournalWrite(
                    resource: id, kind: kind.name, phase: phase, previousDigest: note?.previousDigest ?? step.previousDigest,
                    newDigest: digest ?? note?.newDigest ?? step.newDigest, detail: phase == .intent ? note?.detail ?? detail : detail)
            }
            do throws(StateError) { try await context.store.journal(run: context.run, entries) } catch { return error }
            return nil
        }
        func stop(at phase: Failpoints.Phase) -> Failpoints.Stop? {
            step.resources.lazy.compactMap { failpoints.check($0, phase) }.first
        }
        func failed(_ failure: ResourceFailure, applied: K.Applied?) async -> StepOutcome<K.Applied> {
            if crashed.isSet { return StepOutcome(applied: applied, abandoned: true) }
            let restore = await kind.restore(step, applied: applied, after: failure, in: context)
            let error = ResourceError(failure, restore: restore)
            if case .restored? = restore {
                _ = await journal(.restored, failure.description)
            } else {
                _ = await journal(.failed, error.description)
            }
            return StepOutcome(error: error, applied: applied)
        }

        if let error = await journal(.intent, step.detail) {
            return StepOutcome(
                error: ResourceError(
                    .refused(system: "the state store", call: "journal", message: "the state store cannot journal it: \(error)"), restore: .nothingChanged))
        }
        // Made ready without touching what is live: a failure here changed nothing.
        let prepared: K.Prepared
        do { prepared = try await kind.prepare(step, in: context) } catch {
            let error = ResourceError(error, restore: .nothingChanged)
            _ = await journal(.failed, error.description)
            return StepOutcome(error: error)
        }
        await failpoints.hold(step.resources, .before)
        switch stop(at: .before) {
        case .crash?: return StepOutcome(abandoned: true)
        case let .error(name)?:
            let error = ResourceError(.injected(failpoint: name), restore: .nothingChanged)
            _ = await journal(.failed, error.description)
            return StepOutcome(error: error)
        case nil: break
        }
        // A run whose lock was broken (or whose state store went away) changes nothing more.
        do throws(StateError) { try context.store.confirmLock(run: context.run) } catch {
            return StepOutcome(error: ResourceError(.stopped(reason: error.description), restore: .nothingChanged))
        }
        let applied: K.Applied
        do { applied = try await kind.apply(step, prepared: prepared, in: context) } catch { return await failed(error, applied: nil) }
        let digest = kind.journalDigest(step, applied: applied)
        _ = await journal(.applied, "", digest: digest)
        switch stop(at: .after) {
        case .crash?: return StepOutcome(applied: applied, abandoned: true)
        case let .error(name)?: return await failed(.injected(failpoint: name), applied: applied)
        case nil: break
        }
        do { try await kind.verify(step, applied: applied, in: context) } catch { return await failed(error, applied: applied) }
        do { try await kind.record(step, applied: applied, in: context) } catch {
            let error = ResourceError(error)
            _ = await journal(.failed, error.description)
            return StepOutcome(error: error, applied: applied)
        }
        _ = await journal(.verified, "", digest: digest)
        return StepOutcome(applied: applied)
    }

    private func result<K: ConvergentKind>(
        _ id: String, of kind: K, in context: KindContext, action: ChangeAction, reasons: [ChangeReason] = [], outcome: ResourceOutcome
    ) -> ResourceResult {
        ResourceResult(id: id, kind: kind.name, stage: context.graph.node(id)?.stage ?? kind.stage, action: action, reasons: reasons, outcome: outcome)
    }

    private func failedNodes<K: ConvergentKind>(of kind: K, in context: KindContext, _ failure: ResourceFailure) -> [ResourceResult] {
        context.graph.nodes.filter { $0.kind == kind.name }.map {
            result($0.id, of: kind, in: context, action: .unchanged, outcome: .failed(ResourceError(failure)))
        }
    }
}

/// Set when a step's own checkpoint crashed in-process.
final class CrashFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The executor's limits as a gate: at most `parallelism` steps at once, at most `perTarget` on one
/// target. Waiters start in the order they asked. Once the run is abandoned (a failpoint crash
/// in-process) nothing more starts.
actor Slots {
    private let limits: ExecutionLimits
    private var abandoned = false
    private var running = 0
    private var onTarget: [String: Int] = [:]
    private var waiting: [(target: String, continuation: CheckedContinuation<Void, Never>)] = []

    init(_ limits: ExecutionLimits) { self.limits = limits }

    /// Waits for a slot; false when the run was abandoned meanwhile.
    func acquire(_ target: String) async -> Bool {
        guard !abandoned else { return false }
        if canStart(target) {
            start(target)
            return true
        }
        await withCheckedContinuation { continuation in waiting.append((target, continuation)) }
        return !abandoned
    }

    var isAbandoned: Bool { abandoned }

    /// How many steps wait for a slot now (what the limits hold back).
    var waitingCount: Int { waiting.count }

    func abandon() {
        abandoned = true
        for entry in waiting { entry.continuation.resume() }
        waiting = []
    }

    func release(_ target: String) {
        running -= 1
        onTarget[target, default: 1] -= 1
        guard !abandoned else { return }
        var index = 0
        while index < waiting.count {
            if canStart(waiting[index].target) {
                let next = waiting.remove(at: index)
                start(next.target)
                next.continuation.resume()
            } else {
                index += 1
            }
        }
    }

    private func canStart(_ target: String) -> Bool {
        running < limits.parallelism && (limits.perTarget.map { onTarget[target, default: 0] < $0 } ?? true)
    }

    private func start(_ target: String) {
        running += 1
        onTarget[target, default: 0] += 1
    }
}
