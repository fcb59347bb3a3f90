import Foundation
import PhoenixCore
import PhoenixEngine

/// The parts of a stack's life on the executor, shared by the stacks kind and Portainer's server:
/// observe every stack at once, a step per stack to deploy or remove, the deploy waited for until it
/// converged, the whole stack rolled back to its last good compose when it does not.
extension StackDeployments {
    /// The stacks as the manager and the state store show them, and each one's change.
    public struct Observed: Sendable {
        public let items: [Item]
        let records: [String: StackRecord]
        /// Why every stack is blocked (the manager did not converge in this run).
        let blocked: ResourceFailure?
    }

    /// One stack's step: what to do, and its last good deploy (what a rollback goes back to).
    public struct StackChange: Sendable {
        public let item: Item
        public let record: StackRecord?
    }

    /// In a run, waits for the manager (the swarm stage may make it now) and for the certificates
    /// that feed secrets (their versions follow what the certs stage installs); then one list of
    /// services and one of networks for every stack.
    func observeStacks(in context: KindContext) async throws(ResourceFailure) -> Observed {
        let mine = desired.stacks.filter { $0.stage == stage }
        if let waitFor = context.waitFor, let manager = desired.manager, let error = await waitFor(manager.resourceID) {
            let blocked = ResourceFailure.blocked(dependency: manager.resourceID, reason: error.description)
            let items = mine.map { stack in
                var item = Item(id: stack.resourceID, namespace: stack.namespace, action: .none, reasons: [])
                item.problem = blocked
                item.outcome = .blocked
                return item
            }
            return Observed(items: items, records: [:], blocked: blocked)
        }
        if let waitFor = context.waitFor { for id in secrets.feedingCertificates { _ = await waitFor(id) } }
        let observation: Observation
        do throws(DockerError) { observation = try await observe(planning: context.run == nil) } catch {
            throw SwarmConvergence.failure(error)
        }
        let records: [String: StackRecord]
        do { records = try await context.store?.stackRecords() ?? [:] } catch {
            // A plan reads what it can; a run cannot go on without what it deployed last.
            guard context.run == nil else { throw .cannotCheck(reason: "the state store: \(error)") }
            records = [:]
        }
        return Observed(items: items(observation, records: records, digests: context.digests), records: records, blocked: nil)
    }

    func planStacks(_ observed: Observed) -> KindPlan<StackChange> {
        var plan = KindPlan<StackChange>()
        for item in observed.items {
            if let failure = item.failure {
                plan.failed[item.id] = item.problem ?? .bug("an unplannable stack without its reason: \(failure)")
                continue
            }
            let record = observed.records[item.id]
            switch item.action {
            case .none: plan.unchanged.append(item.id)
            case .deploy:
                plan.steps.append(
                    Step(
                        resources: [item.id], target: item.id, action: record == nil ? .create : .update, reasons: item.reasons.map(ChangeReason.init),
                        previousDigest: record?.specHash, newDigest: item.specHash, detail: item.reasons.joined(separator: "; "),
                        change: StackChange(item: item, record: record)))
            case .remove:
                plan.steps.append(
                    Step(
                        resources: [item.id], target: item.id, action: .delete, reasons: item.reasons.map(ChangeReason.init),
                        previousDigest: record?.specHash, detail: "remove (--prune)", change: StackChange(item: item, record: record)))
            }
        }
        return plan
    }

    /// The tasks the stack has before its deploy: the new ones are the deploy's.
    func prepareStack(_ step: Step<StackChange>) async throws(ResourceFailure) -> Set<String> {
        let item = step.change.item
        guard item.action == .deploy else { return [] }
        do {
            let client = try await managerClient()
            return Set(try await client.tasks(services: try await client.services(label: "com.docker.stack.namespace=\(item.namespace)").map(\.id)).map(\.id))
        } catch {
            throw SwarmConvergence.failure(error)
        }
    }

    /// Deploys the stack (returning the tasks it had before), or removes its services and the
    /// networks it made.
    func applyStack(_ step: Step<StackChange>, before: Set<String>, in context: StepContext) async throws(ResourceFailure) -> Set<String> {
        let item = step.change.item
        do {
            let client = try await managerClient()
            let label = "com.docker.stack.namespace=\(item.namespace)"
            if item.action == .remove {
                for service in try await client.services(label: label) { try await client.removeService(service.id) }
                try await removeNetworks(of: item.namespace, client: client)
                return []
            }
            guard let compose = item.compose else { throw ResourceFailure.bug("no compose file to deploy \(item.id)") }
            context.say("stacks: \(item.id): docker stack deploy \(item.namespace)")
            context.stats.count(.deploys)
            let result = await deployer.deploy(namespace: item.namespace, compose: compose, prune: prune)
            guard result.status == 0 else {
                // The CLI checks the file before it creates anything: nothing of this stack changed.
                throw ResourceFailure.refused(
                    system: "docker stack deploy", call: "docker stack deploy \(item.namespace)",
                    message: "docker stack deploy refused \(item.namespace): \(TextRules.printable(Self.cliMessage(result), limit: 800))")
            }
            return before
        } catch let failure as ResourceFailure {
            throw failure
        } catch {
            throw SwarmConvergence.failure(error)
        }
    }

    /// A deploy converged: every service runs its desired replicas from the new spec.
    func verifyStack(_ step: Step<StackChange>, known: Set<String>) async throws(ResourceFailure) {
        let item = step.change.item
        guard item.action == .deploy else { return }
        let services = (item.compose.flatMap { try? StackCompose($0) })?.services ?? []
        if case let .failed(reason, errors) = await converge(namespace: item.namespace, services: services, known: known) {
            throw .verificationFailed(check: reason, seen: errors.joined(separator: "\n"))
        }
    }

    /// The whole stack back to the compose of its last good deploy (services this deploy added are
    /// pruned), waited for. A deploy the CLI refused changed nothing; a first deploy has nothing
    /// to go back to.
    func restoreStack(_ step: Step<StackChange>, known: Set<String>?, in context: StepContext) async -> RestoreOutcome? {
        let item = step.change.item
        guard item.action == .deploy, known != nil else { return nil }
        guard let record = step.change.record else { return .kept("there is no earlier deploy to roll back to: the stack is left as deployed") }
        // The failed deploy's tasks are not the rollback's: only tasks made after it count.
        var known = Set<String>()
        if let client = try? await managerClient(), let services = try? await client.services(label: "com.docker.stack.namespace=\(item.namespace)"),
            let tasks = try? await client.tasks(services: services.map(\.id))
        {
            known = Set(tasks.map(\.id))
        }
        context.say("stacks: \(item.id): rolling back to the compose of run \(record.run)")
        context.stats.count(.deploys)
        let attempt = "the rollback to run \(record.run)'s compose"
        let result = await deployer.deploy(namespace: item.namespace, compose: record.compose, prune: true)
        guard result.status == 0 else {
            return .failed(attempt: attempt, reason: "docker stack deploy refused it: \(TextRules.printable(Self.cliMessage(result), limit: 600))")
        }
        let services = (try? StackCompose(record.compose))?.services ?? []
        switch await converge(namespace: item.namespace, services: services, known: known) {
        case .converged: return .restored("rolled back to the compose of run \(record.run)")
        case let .failed(again, _): return .failed(attempt: attempt, reason: "it did not converge either: \(again)")
        }
    }

    /// Records a converged deploy with what its services look like now, or forgets a removed stack.
    func recordStack(_ step: Step<StackChange>, in context: StepContext) async throws(ResourceFailure) {
        let item = step.change.item
        do {
            if item.action == .remove {
                try await context.store.forgetStack(item.id)
                return
            }
            guard let compose = item.compose, let hash = item.specHash else { throw ResourceFailure.bug("no compose to record for \(item.id)") }
            let services = try await managerClient().services(label: "com.docker.stack.namespace=\(item.namespace)")
            try await remember(item, compose: compose, hash: hash, services: services, store: context.store, run: context.run)
        } catch let failure as ResourceFailure {
            throw failure
        } catch {
            throw SwarmConvergence.failure(error)
        }
    }

    /// These deployments with their Engine API calls also counted in `stats` (the run's, or a step's).
    func counting(into stats: RunStats) -> StackDeployments {
        var counted = self
        counted.connections = connections.counting(into: stats)
        return counted
    }

    /// The networks a removed stack made (Docker frees a network a moment after its last task).
    func removeNetworks(of namespace: String, client: any DockerEngine) async throws {
        for network in try await client.networks() where network.labels["com.docker.stack.namespace"] == namespace {
            var attempts = 0
            while true {
                do throws(DockerError) {
                    try await client.removeNetwork(network.id)
                    break
                } catch {
                    attempts += 1
                    if attempts >= 20 || error.isNotFound { break }
                    try await Task.sleep(nanoseconds: 500_000_000)
                }
            }
        }
    }

    /// Each stack as planned, with how its step ended in the run.
    static func items(_ observed: Observed, results: [ResourceResult], synced: Bool) -> [Item] {
        let results = Dictionary(uniqueKeysWithValues: results.map { ($0.id, $0) })
        return observed.items.map { planned in
            var item = planned
            guard synced, item.failure == nil, item.action != .none, let result = results[item.id] else { return item }
            item.seconds = result.seconds
            guard let error = result.failure else {
                item.outcome = item.action == .remove ? .removed : .deployed
                item.deploys = item.action == .deploy ? 1 : 0
                return item
            }
            item.outcome = .failed
            if case .blocked = error.failure {
                item.outcome = .blocked
            } else if item.action == .deploy && error.restore != .nothingChanged {
                item.deploys = 1
            }
            var reason = error.failure.description
            if case let .verificationFailed(check, seen) = error.failure {
                reason = check
                item.serviceErrors = seen.split(separator: "\n").map(String.init)
            }
            switch error.restore {
            case let .restored(words)?:
                item.deploys += 1
                item.outcome = .rolledBack
                item.failure = "\(words): \(reason)"
            case let .failed(attempt, why)?:
                item.deploys += 1
                item.failure = "\(reason); \(attempt) failed too: \(why)"
            case let .kept(why)?: item.failure = "\(reason); \(why)"
            case .nothingChanged?, nil: item.failure = error.description
            }
            return item
        }
    }
}

/// The application stacks (`stacks`) as a kind on the executor.
public struct StacksKind: ConvergentKind {
    public let deployments: StackDeployments
    /// Prunes the Swarm's secret versions no service uses once the stacks moved off them (its Engine
    /// API calls counted in the run's stats).
    public var pruneSecrets: (@Sendable (ContentDigests, RunStats) async -> [String])?

    public init(deployments: StackDeployments) {
        self.deployments = deployments
    }

    /// The stacks, pruning `swarm`'s unused secret versions once they moved off them.
    public init(deployments: StackDeployments, pruningWith swarm: SwarmConvergence) {
        self.deployments = deployments
        pruneSecrets = { digests, stats in await swarm.counting(into: stats).pruneUnusedVersions(digests: digests) }
    }

    public var name: String { StackKind().name }

    /// A rollback leaves what the Swarm runs (`SwarmConvergence.leftByRollback`).
    public func notRestored(_ ids: [String], since run: Int64) -> String { SwarmConvergence.leftByRollback(ids, since: run) }
    public let stage = SyncStage.stacks
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { StackKind().nodes(in: context) }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> StackDeployments.Observed {
        guard deployments.desired.manager != nil else { return StackDeployments.Observed(items: [], records: [:], blocked: nil) }
        return try await deployments.counting(into: context.stats).observeStacks(in: context)
    }

    public func plan(_ observed: StackDeployments.Observed, in context: KindContext) -> KindPlan<StackDeployments.StackChange> {
        deployments.planStacks(observed)
    }

    public func prepare(_ step: Step<StackDeployments.StackChange>, in context: StepContext) async throws(ResourceFailure) -> Set<String> {
        try await deployments.counting(into: context.stats).prepareStack(step)
    }

    public func apply(
        _ step: Step<StackDeployments.StackChange>, prepared before: Set<String>, in context: StepContext
    ) async throws(ResourceFailure) -> Set<String> {
        try await deployments.counting(into: context.stats).applyStack(step, before: before, in: context)
    }

    public func verify(_ step: Step<StackDeployments.StackChange>, applied: Set<String>, in context: StepContext) async throws(ResourceFailure) {
        try await deployments.counting(into: context.stats).verifyStack(step, known: applied)
    }

    public func restore(
        _ step: Step<StackDeployments.StackChange>, applied: Set<String>?, after failure: ResourceFailure, in context: StepContext
    ) async -> RestoreOutcome? {
        await deployments.counting(into: context.stats).restoreStack(step, known: applied, in: context)
    }

    public func record(_ step: Step<StackDeployments.StackChange>, applied: Set<String>, in context: StepContext) async throws(ResourceFailure) {
        try await deployments.counting(into: context.stats).recordStack(step, in: context)
    }

    /// Once the stacks moved to new secret versions, the old ones no service uses are pruned.
    public func finish(
        _ observation: StackDeployments.Observed, results: [ResourceResult], applied: [String: Set<String>], in context: KindContext
    ) async throws(ResourceFailure) -> [String] {
        let deployedOrRolledBack = results.contains { result in
            result.action != .delete && result.action != .unchanged
                && (result.outcome == .converged || { if case .restored? = result.failure?.restore { return true } else { return false } }())
        }
        guard deployedOrRolledBack, let pruneSecrets else { return [] }
        return await pruneSecrets(context.digests, context.stats).map { Self.prunedNote + $0 }
    }

    static let prunedNote = "pruned the secret version "

    /// The execution as the stacks' printers show it.
    public static func report(_ execution: KindExecution<StacksKind>, synced: Bool, calls: Int) -> StacksReport {
        guard let observed = execution.observation else {
            return StacksReport(
                report: StackDeployments.Report(error: execution.failure?.description, calls: calls), applied: synced, results: execution.results,
                failure: execution.failure)
        }
        var report = StackDeployments.Report(items: StackDeployments.items(observed, results: execution.results, synced: synced), calls: calls)
        report.deploys = report.items.reduce(0) { $0 + $1.deploys }
        report.prunedSecrets = (execution.plan?.notes ?? []).filter { $0.hasPrefix(prunedNote) }.map { String($0.dropFirst(prunedNote.count)) }
        return StacksReport(report: report, applied: synced, results: execution.results)
    }
}

extension StacksKind: DriftingKind {
    /// Each stack beside what phoenix last deployed: services changed on the cluster by hand, a
    /// configuration changed since, never deployed, no longer configured; a stack that cannot be
    /// compared (its compose does not render, a secret has no source) is "cannot check", a failure.
    public func drift(_ observed: StackDeployments.Observed, in context: KindContext) -> KindDrift? {
        guard !observed.items.isEmpty else { return nil }
        func word(_ drift: Drift) -> String { drift == .neverApplied ? "not deployed" : drift.rawValue }
        let drifted = observed.items.filter(\.drift.isDrift)
        return KindDrift(
            kind: name, findings: observed.items.map { DriftFinding(id: $0.id, kind: name, state: $0.drift, detail: $0.driftDetail) }, member: "stacks",
            entries: observed.items.map { .object([("id", .string($0.id)), ("drift", .string(word($0.drift))), ("detail", .string($0.driftDetail))]) },
            lines: drifted.map { "\(word($0.drift)): \($0.id): \($0.driftDetail)" }
                + [
                    drifted.isEmpty
                        ? "No stack drift: \(observed.items.count) stacks as phoenix deployed them."
                        : "\(drifted.count) of \(observed.items.count) stacks drifted."
                ])
    }
}
