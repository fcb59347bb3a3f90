import Foundation
import PhoenixCerts
import PhoenixCore
import PhoenixEngine

/// The certificates on the executor: a step per certificate that needs issuing, renewing or
/// installing again (or finishing what an interrupted run installed). Apply makes the material and
/// installs every copy, then settles `cert:<name>/files` (a service configuration naming the files
/// waits for that) and passes the `installed` checkpoint; verify waits for the service files of its
/// hooks' machines, runs the hooks, checks where it is served and reads the copies back; restore
/// puts the previous files back (and runs the hooks again when they had run on the new ones).
extension CertConvergence: ConvergentKind {
    public var name: String { CertKind().name }
    public var stage: SyncStage { .certs }
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { CertKind().nodes(in: context) }

    /// Every certificate as installed; or why none can be looked at yet (not a failure).
    public struct Observation: Sendable {
        public let items: [Item]
        /// The CA's root is not on the host yet: nothing is checked or issued.
        public let notReady: String?
    }

    /// What a step installs: the certificate as read, and whether it finishes an interrupted run.
    public struct Change: Sendable {
        public let item: Item
    }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        if let reason = await notReady() { return Observation(items: [], notReady: reason) }
        switch await observe() {
        case let .failure(error): throw error.failure
        case let .success(items): return Observation(items: items, notReady: nil)
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Change> {
        var plan = KindPlan<Change>()
        // An entry left out for its own errors fails first: nothing of it is touched.
        for entry in estate.refusedCertificates {
            plan.failed[entry.resourceID] = .invalid(reason: entry.reason)
            plan.failed[CertKind.filesID(entry.commonName)] = .invalid(reason: entry.reason)
        }
        if let reason = observation.notReady {
            for request in estate.certificates {
                plan.failed[request.resourceID] = .notApplied(reason: reason)
                plan.failed[CertKind.filesID(request.commonName)] = .notApplied(reason: reason)
            }
            return plan
        }
        for planned in observation.items {
            var item = planned
            let filesID = CertKind.filesID(item.request.commonName)
            // Files already in place serve a configuration that names them whatever happens next.
            let present = item.copies.allSatisfy { $0.found != nil }
            // Installed by a run that stopped before its reload and check: those are done now.
            let resumed = !item.needsChange && context.unfinished.contains(item.id)
            guard item.needsChange || resumed else {
                plan.unchanged.append(item.id)
                plan.unchanged.append(filesID)
                continue
            }
            if resumed { item.resumed = true }
            // Known before anything changes: a reload that cannot be checked is refused, not done blind.
            if let problem = item.servingProblem {
                plan.failed[item.id] = .invalid(reason: problem)
                if !present { plan.failed[filesID] = .invalid(reason: problem) }
                continue
            }
            var step = Step(
                resources: [item.id], target: item.id, action: item.copies.contains { $0.found == nil } ? .create : .update,
                reasons: item.lines.map(ChangeReason.init), previousDigest: item.facts?.fingerprint, detail: item.lines.joined(separator: "; "),
                change: Change(item: item))
            step.companions = [filesID]
            step.companionsKeptOnFailure = present
            plan.steps.append(step)
        }
        return plan
    }

    /// The new material: signed, renewed, or what is there. Nothing is installed yet.
    public func prepare(_ step: Step<Change>, in context: StepContext) async throws(ResourceFailure) -> Material {
        let item = step.change.item
        do {
            let made = try await material(for: item)
            if item.assessment.action != .none { context.stats.count(.signs) }
            return made
        } catch {
            throw Self.failure(error, "make the certificate")
        }
    }

    /// Every copy installed, the files settled, the `installed` checkpoint passed.
    public func apply(_ step: Step<Change>, prepared made: Material, in context: StepContext) async throws(ResourceFailure) -> Material {
        let item = step.change.item
        do {
            context.say("certs: \(item.id): installing")
            try await install(made, item: item)
            await context.settle(CertKind.filesID(item.request.commonName), nil)
            try context.checkpoint(Failpoints.Phase.installed.rawValue)
            return made
        } catch {
            throw Self.failure(error, "install")
        }
    }

    /// The services that load the files configured first, the hooks, the served check, the read-back.
    public func verify(_ step: Step<Change>, applied material: Material, in context: StepContext) async throws(ResourceFailure) {
        let item = step.change.item
        do {
            for id in serviceFiles(of: item, in: context.kind.graph) { _ = await context.waitFor(id) }
            for hook in item.hooks {
                if case .swarmSecrets = hook { continue }
                context.say("certs: \(item.id): \(hook.summary)")
                context.stats.count(.reloads)
                try await run(hook, for: item)
            }
            try await checkServed(material, item: item)
            try await verify(material, item: item)
        } catch {
            throw Self.failure(error, "verify")
        }
    }

    /// A step's error as a typed failure: what the steps throw already is one; a machine's error
    /// (a write, a read, a command that could not start) is its refusal of `call`.
    static func failure(_ error: any Error, _ call: String) -> ResourceFailure {
        if let failure = error as? ResourceFailure { return failure }
        return .refused(system: "the machines", call: call, message: "\(error)")
    }

    /// The previous files back; the hooks again when they had run on the new ones.
    public func restore(_ step: Step<Change>, applied: Material?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome? {
        let item = step.change.item
        // The hooks run in verify: a failure before it (apply's, or the `after` failpoint's) left
        // the services on the old files, and putting those back is enough.
        var hooksRan = applied != nil
        if case .injected = failure { hooksRan = false }
        return await restore(item, hooksRan: hooksRan)
    }

    /// The Swarm secrets this certificate feeds take the new files.
    public func record(_ step: Step<Change>, applied material: Material, in context: StepContext) async throws(ResourceFailure) {
        feedSecrets(material, item: step.change.item)
    }

    /// The journal keeps the new leaf's fingerprint: what drift compares the installed one with.
    public func journalDigest(_ step: Step<Change>, applied material: Material) -> String? { material.fingerprint }

    /// The execution as the certificates' printers show it.
    public func report(_ execution: KindExecution<CertConvergence>, synced: Bool, calls: [String: Int]) -> CertsReport {
        guard let observation = execution.observation else {
            return CertsReport(
                report: Report(refused: estate.refusedCertificates, error: execution.failure?.description, calls: calls), applied: synced,
                results: execution.results, failure: execution.failure)
        }
        if let reason = observation.notReady {
            return CertsReport(report: Report(refused: estate.refusedCertificates, notReady: reason), applied: synced, results: execution.results)
        }
        let results = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        let stepped = Set(execution.plan?.steps.map(\.id) ?? [])
        let items = observation.items.map { planned in
            var item = planned
            if stepped.contains(item.id), !item.needsChange { item.resumed = true }
            guard let result = results[item.id] else { return item }
            if let error = result.failure {
                item.failure = error.description
                if case .restored? = error.restore { item.outcome = .restored }
                if case .failed? = error.restore { item.outcome = .restored }
            } else if synced, result.outcome == .converged {
                item.newFingerprint = execution.applied[item.id]?.fingerprint
                item.outcome = item.assessment.action == .sign ? .issued : item.assessment.action == .renew ? .renewed : .reinstalled
            }
            return item
        }
        return CertsReport(report: Report(items: items, refused: estate.refusedCertificates, calls: calls), applied: synced, results: execution.results)
    }

    /// Ends the CA's connection (once the kind is done).
    public func shutdown() async { await connection.shutdown() }

    /// The certificates on the executor, rendered as their printers show them; the CA's connection
    /// is shut down once the kind is done.
    public func runner(executor: Executor, stats: RunStats? = nil) -> ExecutedRunner<CertConvergence> {
        let connection = self.connection
        return ExecutedRunner(self, executor: executor) { execution, synced in
            let calls = await connection.calls()
            stats?.count(.caCalls, calls.values.reduce(0, +))
            await connection.shutdown()
            return self.report(execution, synced: synced, calls: calls)
        }
    }
}

extension CertConvergence: DriftingKind {
    /// Each certificate beside what phoenix last installed (the fingerprint its journal verified) and
    /// the manifest. No root exported yet is said, not failed (as the trust stage).
    public func drift(_ observation: Observation, in context: KindContext) async -> KindDrift? {
        if let reason = observation.notReady {
            return KindDrift(
                kind: name, member: "certificates", entries: [.object([("not_checked", .string(reason))])], lines: ["Certificates not checked: \(reason)"])
        }
        let verified: [String: String]
        do { verified = try await context.store?.verifiedDigests(prefix: "cert:") ?? [:] } catch {
            return KindDrift(kind: name, failure: .cannotCheck(reason: "the state store: \(error)"))
        }
        let items = CertDrift.check(Report(items: observation.items), verified: verified)
        let drifted = items.filter { $0.drift != nil }
        let findings = items.map { DriftFinding(id: $0.id, kind: name, state: $0.state, detail: $0.detail) }
        var lines = drifted.map { "\($0.drift!): \($0.id): \($0.detail)" }
        lines += items.filter { $0.drift == nil && !$0.detail.isEmpty }.map { "note: \($0.id): \($0.detail)" }
        lines.append(
            drifted.isEmpty
                ? "No certificate drift: \(items.count) certificates as phoenix installed them." : "\(drifted.count) of \(items.count) certificates drifted.")
        return KindDrift(
            kind: name, findings: findings, member: "certificates",
            entries: items.map { .object([("id", .string($0.id)), ("drift", .string($0.drift ?? "in sync")), ("detail", .string($0.detail))]) }, lines: lines)
    }
}
