import Foundation
import PhoenixCore

extension SyncEngine {
    /// Converges `stages`: plan, then every unit with changes, under the sync lock, each change
    /// journalled before and after. A unit that fails is restored and fails only the units that
    /// depend on it.
    ///
    /// - Parameter upstream: resources converged before this run of the engine that failed (a
    ///   guest's settings), with why: the files that need them are blocked.
    public func sync(_ stages: [SyncStage], store: any StateBackend, command: String, upstream: [String: String] = [:]) async throws(EngineError) -> SyncOutcome
    {
        let (run, interrupted) = try begin(store, command: command)
        do {
            let outcome = try await sync(stages, store: store, run: run, interrupted: interrupted, upstream: upstream)
            try stateCall { () throws(StateError) in try store.finishRun(run, outcome: outcome.runOutcome, summary: outcome.summary) }
            return outcome
        } catch {
            try? store.finishRun(run, outcome: .failed, summary: error.description)
            throw error
        }
    }

    /// Converges `stages` inside a run the caller began (and finishes: other kinds share it).
    public func sync(
        _ stages: [SyncStage], store: any StateBackend, run: Int64, interrupted: [RunRecord], upstream: [String: String] = [:]
    ) async throws(EngineError) -> SyncOutcome {
        let desired = try await desired(stages)
        let applied = try applied(store)
        let actual = try await observe(desired: desired.resources, applied: applied, stages: Set(stages))
        let unfinished = try stateCall { () throws(StateError) in try store.unfinishedResources(in: interrupted.map(\.id)) }
        let plan = Plan(desired: desired, stages: Set(stages), actual: actual, applied: applied, reactivate: unfinished, digests: store.digests)
        return try await execute(plan, stages: stages, upstream: upstream, actual: actual, applied: applied, store: store, run: run, interrupted: interrupted)
    }

    /// Re-applies what a successful earlier run left installed: its files come back, files phoenix
    /// created since are removed. A file the state store kept only as a keyed hash (a stack file
    /// that may hold secrets) cannot come back: when one is no longer as the run left it, the
    /// rollback is refused before anything changes (`EngineError.notRestorable`), never reported as
    /// a success that left it.
    public func rollback(to target: Int64, store: any StateBackend, command: String) async throws(EngineError) -> SyncOutcome {
        var (resources, withoutContents) = try stateCall { () throws(StateError) in try store.snapshot(of: target) }
        // `--target`: only the guests' own resources, as in sync.
        if let scope {
            resources.removeAll { !scope.contains(id: $0.id, target: $0.target) }
            withoutContents.removeAll { !scope.contains(id: $0.id, target: $0.unit.target) }
        }
        let (run, interrupted) = try begin(store, command: command)
        do throws(EngineError) {
            let stages = Set(SyncStage.allCases.filter(\.isApplied))
            let applied = try applied(store)
            let actual = try await observe(desired: resources, also: withoutContents, applied: applied, stages: stages)
            let changed = withoutContents.filter { record in (actual[record.id] ?? nil).map { !store.digests.matches($0, record.digest) } ?? false }
            let deleted = withoutContents.filter { (actual[$0.id] ?? nil) == nil }
            if !changed.isEmpty || !deleted.isEmpty {
                throw EngineError.notRestorable(run: target, changed: changed.map(\.id), deleted: deleted.map(\.id))
            }
            let plan = Plan(
                resources: resources, stages: stages, actual: actual, applied: applied, preserve: Set(withoutContents.map(\.id)),
                notes: withoutContents.isEmpty
                    ? []
                    : [
                        "\(withoutContents.count) files that may hold secrets (kept only as keyed hashes) are as run \(target) left them: nothing to put back"
                    ],
                digests: store.digests)
            var engine = self
            engine.mirrorFromSource = false
            let outcome = try await engine.execute(
                plan, stages: Array(stages), upstream: [:], actual: actual, applied: applied, store: store, run: run, interrupted: interrupted)
            try stateCall { () throws(StateError) in try store.finishRun(run, outcome: outcome.runOutcome, summary: outcome.summary) }
            return outcome
        } catch {
            try? store.finishRun(run, outcome: .failed, summary: error.description)
            throw error
        }
    }

    private func begin(_ store: any StateBackend, command: String) throws(EngineError) -> (Int64, [RunRecord]) {
        try stateCall { () throws(StateError) in try store.beginRun(command: command) }
    }

    func stateCall<T>(_ body: () throws(StateError) -> T) throws(EngineError) -> T {
        do { return try body() } catch { throw .state(error) }
    }

    private func execute(
        _ plan: Plan, stages: [SyncStage], upstream: [String: String], actual: [String: String?], applied: [String: AppliedRecord], store: any StateBackend,
        run: Int64, interrupted: [RunRecord]
    ) async throws(EngineError) -> SyncOutcome {
        let byUnit = Dictionary(grouping: plan.pending, by: \.unit)
        let units = byUnit.keys.sorted()
        let desiredByUnit = Dictionary(grouping: plan.changes.compactMap(\.resource), by: \.unit)
        let (needs, blocked) = unitDependencies(plan, stages: stages, upstream: upstream)
        let outcomes = await walk(units, needs: needs, blocked: blocked) { unit in
            await converge(unit, changes: byUnit[unit]!, live: desiredByUnit[unit] ?? [], actual: actual, store: store, run: run)
        }
        // Resources already as desired but not yet on record (a first run, a state store moved away).
        for change in plan.changes where change.action == .unchanged {
            // Compared as the store would record it now: a record in another form (a keyed hash of a
            // file whose contents are now kept for rollback) is written again.
            if let resource = change.resource, applied[resource.id]?.digest != store.digests.digest(resource.contents, sensitive: resource.sensitive) {
                try stateCall { () throws(StateError) in try store.recordApplied(run: run, resource) }
            }
        }
        let outcome = SyncOutcome(run: run, plan: plan, units: outcomes, interrupted: interrupted)
        if outcome.succeeded { try stateCall { () throws(StateError) in try store.snapshot(run: run) } }
        return outcome
    }

    /// The units each unit waits for, from the resource graph: a unit needs the units of the
    /// resources its own resources depend on (the gateway the Traefik of its ingress). Units without
    /// changes are not waited for. `upstream`: resources converged before the engine ran (guest
    /// settings) that failed, with why; a unit that needs one is blocked.
    func unitDependencies(
        _ plan: Plan, stages: [SyncStage], upstream: [String: String]
    ) -> (
        needs: [ServiceUnit: Set<ServiceUnit>], blocked: [ServiceUnit: String]
    ) {
        let graph = ResourceGraph(
            context: ResourceGraphContext(
                estate: estate, stages: Set(stages).union(upstream.isEmpty ? [] : [.guests]), files: plan.changes.compactMap(\.resource)))
        let pendingUnits = Set(plan.pending.map(\.unit))
        let unitOf = Dictionary(plan.changes.map { ($0.id, $0.unit) }, uniquingKeysWith: { first, _ in first })
        var needs: [ServiceUnit: Set<ServiceUnit>] = [:]
        var blocked: [ServiceUnit: String] = [:]
        for change in plan.pending {
            for dependency in graph.node(change.id)?.dependsOn ?? [] {
                if let reason = upstream[dependency] {
                    blocked[change.unit] = blocked[change.unit] ?? "not attempted: \(dependency) did not converge (\(reason))"
                } else if let unit = unitOf[dependency], unit != change.unit, pendingUnits.contains(unit) {
                    needs[change.unit, default: []].insert(unit)
                }
            }
        }
        return (needs, blocked)
    }

    /// Walks the units in dependency order: each starts as soon as the units it needs converged,
    /// with at most `parallelism` at once and one at a time per machine. A unit whose dependency
    /// failed (or was blocked) is blocked, with the reason; the others go on.
    func walk(
        _ units: [ServiceUnit], needs: [ServiceUnit: Set<ServiceUnit>], blocked: [ServiceUnit: String],
        _ body: @escaping @Sendable (ServiceUnit) async -> UnitOutcome
    ) async -> [UnitOutcome] {
        var done: [ServiceUnit: UnitOutcome] = [:]
        for (unit, reason) in blocked where units.contains(unit) {
            done[unit] = UnitOutcome(unit: unit, status: .blocked, resources: [], message: reason, seconds: 0)
        }
        var waiting = units.sorted().filter { done[$0] == nil }
        var running = 0
        var busy = Set<RenderedFile.Target>()
        let limit = max(1, parallelism)
        await withTaskGroup(of: UnitOutcome.self) { group in
            func startWhatIsReady() {
                // A unit that needs one that failed or was blocked is blocked, and so on down the graph.
                var blockedMore = true
                while blockedMore {
                    blockedMore = false
                    for unit in waiting {
                        guard let failed = (needs[unit] ?? []).sorted().first(where: { done[$0].map { $0.status != .converged } ?? false }) else { continue }
                        done[unit] = UnitOutcome(unit: unit, status: .blocked, resources: [], message: "not attempted: \(failed) did not converge", seconds: 0)
                        waiting.removeAll { $0 == unit }
                        blockedMore = true
                    }
                }
                for unit in waiting where running < limit && !busy.contains(unit.target) && (needs[unit] ?? []).allSatisfy({ done[$0] != nil }) {
                    waiting.removeAll { $0 == unit }
                    running += 1
                    busy.insert(unit.target)
                    group.addTask { await body(unit) }
                }
            }
            startWhatIsReady()
            while let outcome = await group.next() {
                done[outcome.unit] = outcome
                running -= 1
                busy.remove(outcome.unit.target)
                startWhatIsReady()
            }
        }
        return units.compactMap { done[$0] }
    }

    /// Converges one unit: stage, test, activate, reload, verify; on a failed check the previous files
    /// come back and the service is reloaded onto them.
    func converge(
        _ unit: ServiceUnit, changes: [Change], live: [Resource], actual: [String: String?], store: any StateBackend, run: Int64
    ) async -> UnitOutcome {
        let started = Date()
        // The unit's own count of its calls (for the apply benchmark's critical path).
        let calls = MachineStats()
        let machine: any Machine = CountingMachine(machines.machine(for: unit.target), stats: calls, latency: 0)
        let context = UnitContext(
            unit: unit, machine: machine, commands: estate.settings.commands(for: unit.serviceName), estate: estate, timeouts: timeouts)
        let ids = changes.map(\.id)
        guard let driver = driver(for: unit) else {
            return UnitOutcome(
                unit: unit, status: .failed, resources: ids, message: "phoenix has no driver for \(unit.serviceName): nothing was changed", seconds: 0)
        }
        func say(_ text: String) { reporter.report("\(unit.stage.rawValue): \(unit): \(text)") }
        var activations = 0
        func outcome(_ status: UnitOutcome.Status, _ message: String) -> UnitOutcome {
            var result = UnitOutcome(unit: unit, status: status, resources: ids, message: message, seconds: Date().timeIntervalSince(started))
            result.activations = activations
            result.calls = calls.roundTrips
            return result
        }
        func journal(_ change: Change, _ phase: JournalPhase, _ detail: String = "") {
            // Fingerprints of files that may hold secrets are keyed hashes, here as in the applied state.
            let sensitive =
                change.resource?.sensitive ?? (change.unit == .stackFiles && StackFile.mayHoldSecrets(path: String(change.id.dropFirst("files:".count))))
            let previous = (actual[change.id] ?? nil).map { store.digests.digest($0, sensitive: sensitive) }
            let new = change.resource.map { store.digests.digest($0.contents, sensitive: sensitive) }
            try? store.journal(run: run, resource: change.id, phase: phase, previousDigest: previous, newDigest: new, detail: detail)
        }

        for change in changes { journal(change, .intent, change.action.rawValue) }
        let writes = changes.filter { $0.resource != nil && (actual[$0.id] ?? nil) != $0.resource?.contents }
        // The stack files are sent by rsync from the stacks directory, which writes each atomically
        // itself; every other unit's files are staged beside their targets.
        let mirror = unit == .stackFiles && mirrorFromSource ? driver as? StackFilesDriver : nil
        // 1. Stage every new file beside its target, and test the staged copies.
        var staged: [(resource: Resource, path: String)] = []
        do throws(UnitFailure) {
            if mirror == nil {
                say("staging \(writes.count) file\(writes.count == 1 ? "" : "s")")
                for change in writes {
                    let resource = change.resource!
                    let path = resource.path + ".phoenix-new"
                    do { try await machine.write(path, resource.contents, mode: resource.mode) } catch {
                        throw UnitFailure(check: "staging \(resource.path)", output: error.description)
                    }
                    staged.append((resource, path))
                }
            } else {
                staged = writes.map { ($0.resource!, $0.path) }
            }
            say("testing \(mirror == nil ? "the staged files" : "the files to send")")
            try await driver.test(staged: staged, in: context)
            for change in changes { try failpoints.hit(change.id, .before) }
        } catch {
            if mirror == nil { for file in staged { try? await machine.remove(file.path) } }
            for change in changes { journal(change, .failed, error.description) }
            say("failed before going live; the running service is untouched")
            return outcome(.failed, "\(error.check) failed, nothing changed: \(error.output)")
        }

        // 2. Go live: atomic renames (and removals), then the reload or restart the changes need.
        var activation = Activation.none
        let firewall = driver as? FirewallDriver
        do throws(UnitFailure) {
            if let firewall {
                say("arming the revert: the previous rules come back in \(Int(timeouts.firewallRevert)) s unless the new ones are confirmed")
                try await firewall.arm(changes, previous: actual, in: context)
            }
            if let mirror {
                guard let source = stacksDirectory else { throw UnitFailure(check: "rsync", output: "no stacks directory to send from") }
                say("sending \(writes.count) file\(writes.count == 1 ? "" : "s") with rsync")
                _ = try await mirror.mirror(writes.map { String($0.id.dropFirst("files:".count)) }, from: source, in: context, dryRun: false)
            } else {
                for file in staged {
                    do { try await machine.rename(file.path, to: file.resource.path) } catch {
                        throw UnitFailure(check: "activating \(file.resource.path)", output: error.description)
                    }
                }
            }
            for change in changes where change.action == .delete {
                do { try await machine.remove(change.path) } catch { throw UnitFailure(check: "removing \(change.path)", output: error.description) }
            }
            for change in changes { journal(change, .applied) }
            for change in changes { try failpoints.hit(change.id, .after) }
            activation = changes.map { $0.resource?.activation ?? (mirror == nil ? .reload : .none) }.max() ?? .none
            if activation != .none {
                say(activation == .restart ? "restarting" : "reloading")
                activations += 1
            }
            try await driver.activate(activation, in: context)
            if context.commands.verify { say("verifying") }
            if let mirror, let source = stacksDirectory {
                let pending = try await mirror.mirror(live.map { String($0.id.dropFirst("files:".count)) }, from: source, in: context, dryRun: true)
                if !pending.isEmpty { throw UnitFailure(check: "rsync --dry-run after the transfer", output: "still differs: \(pending)") }
            }
            if context.commands.verify {
                try await driver.verify(live: live, previous: actual, in: context)
            } else {
                say("not verified: phoenix.services.\(unit.serviceName).verify is false")
            }
        } catch {
            say("\(error.check) failed; restoring the previous files")
            let restored = await restore(changes, actual: actual, on: machine)
            await firewall?.disarm(changes, in: context)
            if mirror == nil {
                activations += 1
                try? await driver.activate(max(activation, changes.map { $0.resource?.activation ?? .reload }.max() ?? .reload), in: context)
            }
            for change in changes { journal(change, .restored, error.description) }
            return outcome(.failed, "\(error.check) failed: \(error.output); \(restored)")
        }

        await firewall?.disarm(changes, in: context)
        for change in changes {
            if let resource = change.resource { try? store.recordApplied(run: run, resource) } else { try? store.recordDeleted(id: change.id) }
            journal(change, .verified)
        }
        say("converged")
        return outcome(.converged, changes.map { "\($0.action.rawValue) \($0.path)" }.joined(separator: ", "))
    }

    /// Puts back what was installed before this run touched the unit's files.
    private func restore(_ changes: [Change], actual: [String: String?], on machine: any Machine) async -> String {
        var problems: [String] = []
        for change in changes {
            do throws(MachineError) {
                if let previous = actual[change.id] ?? nil {
                    let mode = change.resource?.mode ?? "0644"
                    try await machine.write(change.path + ".phoenix-old", previous, mode: mode)
                    try await machine.rename(change.path + ".phoenix-old", to: change.path)
                } else {
                    try await machine.remove(change.path)
                }
            } catch {
                problems.append(error.description)
            }
        }
        return problems.isEmpty ? "the previous files are back in place" : "restoring failed too: \(problems.joined(separator: "; "))"
    }
}
