import Foundation
import PhoenixCore

/// The files of the host-side stages (dnsmasq, the firewall's .fw files, Traefik, the gateway, the
/// trust store, the stack files) as a kind on the executor. A step is one service unit: its files
/// are staged beside their places and tested together (`prepare`), go live together by atomic
/// renames or rsync (`apply`), and its service is reloaded or restarted once and checked
/// (`verify`); on a failed check the previous files come back and the service is reloaded onto
/// them (`restore`). One unit at a time per machine.
public struct FilesKind: ConvergentKind, DriftingKind, RollbackKind {
    public var engine: SyncEngine
    /// The file stages of this run.
    public let stages: [SyncStage]

    public init(engine: SyncEngine, stages: [SyncStage]) {
        self.engine = engine
        self.stages = stages
    }

    public var name: String { FileKind().name }
    public var stage: SyncStage { stages.first ?? .files }
    /// The files of this run's stages as the engine installs them, the stack files it read among them.
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        var options = context.options
        options[FileGraphInputs.self].nodeName = engine.nodeName
        options[FileGraphInputs.self].inputs.stackFiles = engine.stackFiles
        return FileKind().nodes(in: ResourceGraphContext(estate: context.estate, stages: context.stages, options: options))
            .filter { stages.contains($0.stage) }
    }

    /// The limits the engine's units keep: its parallelism, one unit at a time per machine.
    public var limits: ExecutionLimits { ExecutionLimits(parallelism: engine.parallelism, perTarget: 1) }

    /// The plan of the file stages, from one bulk read per machine.
    public struct Observation: Sendable {
        public let plan: Plan
        let actual: [String: String?]
        let applied: [String: AppliedRecord]
        /// Stack files go out with rsync from the stacks directory; a rollback writes the recorded
        /// contents instead (the directory holds the newer files).
        let mirror: Bool
        /// A rollback that cannot be done, known before anything changes.
        let refusal: String?
    }

    /// One unit's change.
    public struct UnitChange: Sendable {
        public let unit: ServiceUnit
        public let changes: [Change]
        /// Every resource of the unit as it now should be served.
        public let live: [Resource]
        /// What was installed before, by resource id (nil when absent).
        let actual: [String: String?]
        let mirror: Bool
    }

    /// The staged copies of a unit's new files.
    public struct Staged: Sendable {
        let files: [(resource: Resource, path: String)]
    }

    // MARK: Observe and plan

    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        do throws(EngineError) {
            let desired = try await engine.desired(stages)
            let applied = try await engine.applied(context.store)
            let actual = try await engine.observe(desired: desired.resources, applied: applied, stages: Set(stages))
            let plan = Plan(
                desired: desired, stages: Set(stages), actual: actual, applied: applied, reactivate: context.unfinished, digests: context.digests)
            return Observation(plan: plan, actual: actual, applied: applied, mirror: true, refusal: nil)
        } catch {
            throw Self.failure(error)
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<UnitChange> {
        let plan = observation.plan
        var result = KindPlan<UnitChange>(unchanged: plan.changes.filter { $0.action == .unchanged }.map(\.id), notes: plan.notes)
        let byUnit = Dictionary(grouping: plan.pending, by: \.unit)
        let liveByUnit = Dictionary(grouping: plan.changes.compactMap(\.resource), by: \.unit)
        let digests = context.digests
        for unit in byUnit.keys.sorted() {
            let changes = byUnit[unit]!
            var step = Step(
                resources: changes.map(\.id), target: unit.targetKey, action: changes.count == 1 ? changes[0].action : .update,
                reasons: changes.flatMap { change in change.reasons.map { ChangeReason("\(change.id): \($0)") } },
                detail: changes.map { "\($0.action.rawValue) \($0.path)" }.joined(separator: ", "),
                change: UnitChange(
                    unit: unit, changes: changes, live: liveByUnit[unit] ?? [],
                    actual: Dictionary(uniqueKeysWithValues: changes.map { ($0.id, observation.actual[$0.id] ?? nil) }), mirror: observation.mirror))
            for change in changes {
                // Fingerprints of files that may hold secrets are keyed hashes, here as in the applied state.
                let sensitive =
                    change.resource?.sensitive
                    ?? (change.unit == .stackFiles && StackFile.mayHoldSecrets(path: String(change.id.dropFirst("files:".count))))
                step.journalNotes[change.id] = JournalNote(
                    previousDigest: (observation.actual[change.id] ?? nil).map { digests.digest($0, sensitive: sensitive) },
                    newDigest: change.resource.map { digests.digest($0.contents, sensitive: sensitive) }, detail: change.action.rawValue)
            }
            result.steps.append(step)
        }
        return result
    }

    // MARK: Prepare, apply, verify, restore, record

    /// Every new file staged beside its place and tested with its unit's service (stack files are
    /// tested where they are: rsync writes each atomically itself). A failure leaves nothing staged.
    public func prepare(_ step: Step<UnitChange>, in context: StepContext) async throws(ResourceFailure) -> Staged {
        let change = step.change
        let unit = unitContext(change.unit, context)
        guard let driver = driver(for: change.unit) else { throw .bug("phoenix has no driver for \(change.unit.serviceName)") }
        let writes = change.changes.filter { $0.resource != nil && (change.actual[$0.id] ?? nil) != $0.resource?.contents }
        let mirror = mirror(change, driver)
        var staged: [(resource: Resource, path: String)] = []
        do throws(UnitFailure) {
            if mirror == nil {
                say(change.unit, "staging \(writes.count) file\(writes.count == 1 ? "" : "s")", context)
                for write in writes {
                    let resource = write.resource!
                    let path = resource.path + ".phoenix-new"
                    do { try await unit.machine.write(path, resource.contents, mode: resource.mode) } catch {
                        throw UnitFailure(check: "staging \(resource.path)", output: error.description)
                    }
                    staged.append((resource, path))
                }
            } else {
                staged = writes.map { ($0.resource!, $0.path) }
            }
            say(change.unit, "testing \(mirror == nil ? "the staged files" : "the files to send")", context)
            try await driver.test(staged: staged, in: unit)
        } catch {
            if mirror == nil { for file in staged { try? await unit.machine.remove(file.path) } }
            say(change.unit, "failed before going live; the running service is untouched", context)
            throw Self.failure(error, unit: change.unit)
        }
        return Staged(files: staged)
    }

    /// The unit goes live: the firewall's revert armed, the staged files renamed over the old ones
    /// (or the stack files sent with rsync), removals made. Returns what its service needs.
    public func apply(_ step: Step<UnitChange>, prepared staged: Staged, in context: StepContext) async throws(ResourceFailure) -> Activation {
        let change = step.change
        let unit = unitContext(change.unit, context)
        guard let driver = driver(for: change.unit) else { throw .bug("phoenix has no driver for \(change.unit.serviceName)") }
        let mirror = mirror(change, driver)
        do throws(UnitFailure) {
            if let firewall = driver as? FirewallDriver {
                say(
                    change.unit,
                    "arming the revert: the previous rules come back in \(Int(engine.timeouts.firewallRevert)) s unless the new ones are confirmed", context)
                try await firewall.arm(change.changes, previous: change.actual, in: unit)
            }
            if let mirror {
                guard let source = engine.stacksDirectory else { throw UnitFailure(check: "rsync", output: "no stacks directory to send from") }
                say(change.unit, "sending \(staged.files.count) file\(staged.files.count == 1 ? "" : "s") with rsync", context)
                let sent = change.changes.filter { c in staged.files.contains { $0.resource.id == c.id } }
                _ = try await mirror.mirror(sent.map { String($0.id.dropFirst("files:".count)) }, from: source, in: unit, dryRun: false)
                context.stats.count(.writes, sent.count)
            } else {
                for file in staged.files {
                    do { try await unit.machine.rename(file.path, to: file.resource.path) } catch {
                        throw UnitFailure(check: "activating \(file.resource.path)", output: error.description)
                    }
                }
            }
            for removal in change.changes where removal.action == .delete {
                do { try await unit.machine.remove(removal.path) } catch { throw UnitFailure(check: "removing \(removal.path)", output: error.description) }
            }
        } catch {
            throw Self.failure(error, unit: change.unit)
        }
        return change.changes.map { $0.resource?.activation ?? (mirror == nil ? .reload : .none) }.max() ?? .none
    }

    /// The reload or restart the files need, then the check that the service serves them.
    public func verify(_ step: Step<UnitChange>, applied activation: Activation, in context: StepContext) async throws(ResourceFailure) {
        let change = step.change
        let unit = unitContext(change.unit, context)
        guard let driver = driver(for: change.unit) else { throw .bug("phoenix has no driver for \(change.unit.serviceName)") }
        do throws(UnitFailure) {
            if activation != .none {
                say(change.unit, activation == .restart ? "restarting" : "reloading", context)
                context.stats.count(.reloads)
            }
            try await driver.activate(activation, in: unit)
            if unit.commands.verify { say(change.unit, "verifying", context) }
            if let mirror = mirror(change, driver), let source = engine.stacksDirectory {
                let pending = try await mirror.mirror(change.live.map { String($0.id.dropFirst("files:".count)) }, from: source, in: unit, dryRun: true)
                if !pending.isEmpty { throw UnitFailure(check: "rsync --dry-run after the transfer", output: "still differs: \(pending)") }
            }
            if unit.commands.verify {
                try await driver.verify(live: change.live, previous: change.actual, in: unit)
            } else {
                say(change.unit, "not verified: phoenix.services.\(change.unit.serviceName).verify is false", context)
            }
        } catch {
            throw Self.failure(error, unit: change.unit)
        }
    }

    /// What was installed before this run touched the unit's files, back in place; the firewall's
    /// revert disarmed; the service reloaded onto the old files.
    public func restore(_ step: Step<UnitChange>, applied: Activation?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome? {
        let change = step.change
        let unit = unitContext(change.unit, context)
        say(change.unit, "\(failure); restoring the previous files", context)
        var problems: [String] = []
        for item in change.changes {
            do throws(MachineError) {
                if let previous = change.actual[item.id] ?? nil {
                    let mode = item.resource?.mode ?? "0644"
                    try await unit.machine.write(item.path + ".phoenix-old", previous, mode: mode)
                    try await unit.machine.rename(item.path + ".phoenix-old", to: item.path)
                } else {
                    try await unit.machine.remove(item.path)
                }
            } catch {
                problems.append(error.description)
            }
        }
        guard let driver = driver(for: change.unit) else {
            return .failed(attempt: "restoring", reason: "phoenix has no driver for \(change.unit.serviceName)")
        }
        await (driver as? FirewallDriver)?.disarm(change.changes, in: unit)
        if mirror(change, driver) == nil {
            context.stats.count(.reloads)
            try? await driver.activate(max(applied ?? .reload, change.changes.map { $0.resource?.activation ?? .reload }.max() ?? .reload), in: unit)
        }
        return problems.isEmpty ? .restored("the previous files are back in place") : .failed(attempt: "restoring", reason: problems.joined(separator: "; "))
    }

    /// The firewall's new rules confirmed (its revert disarmed); what was applied recorded.
    public func record(_ step: Step<UnitChange>, applied: Activation, in context: StepContext) async throws(ResourceFailure) {
        let change = step.change
        if let firewall = driver(for: change.unit) as? FirewallDriver { await firewall.disarm(change.changes, in: unitContext(change.unit, context)) }
        do {
            try await context.store.recordApplied(run: context.run, change.changes.compactMap(\.resource))
            for item in change.changes where item.resource == nil { try await context.store.recordDeleted(id: item.id) }
        } catch {
            throw .cannotCheck(reason: "the state store: \(error)")
        }
        say(change.unit, "converged", context)
    }

    /// Resources already as desired but not on record yet (a first run, a store moved away) are
    /// recorded; a run where every unit converged keeps the whole applied state for rollback.
    public func finish(
        _ observation: Observation, results: [ResourceResult], applied: [String: Activation], in context: KindContext
    ) async throws(ResourceFailure) -> [String] {
        guard let store = context.store, let run = context.run else { return [] }
        do {
            // Compared as the store would record it now: a record in another form (a keyed hash of a
            // file whose contents are now kept for rollback) is written again. All in one call.
            let unrecorded = observation.plan.changes.filter { $0.action == .unchanged }.compactMap(\.resource).filter { resource in
                observation.applied[resource.id]?.digest != store.digests.digest(resource.contents, sensitive: resource.sensitive)
            }
            try await store.recordApplied(run: run, unrecorded)
            if results.allSatisfy({ $0.failure == nil }) { try await store.snapshot(run: run) }
        } catch {
            throw .cannotCheck(reason: "the state store: \(error)")
        }
        return []
    }

    // MARK: Drift and rollback

    /// Installed vs last applied vs desired, every side fingerprinted the way the store recorded it
    /// (a keyed hash for possible secrets).
    public func drift(_ observation: Observation, in context: KindContext) -> KindDrift? {
        let digests = context.digests
        let desired = observation.plan.changes.compactMap(\.resource)
        var items: [(id: String, unit: ServiceUnit, path: String, state: Drift)] = desired.map { resource in
            let installed = observation.actual[resource.id] ?? nil
            let recorded = observation.applied[resource.id]?.digest
            let fingerprint = { (contents: String) in recorded.map { digests.digest(contents, like: $0) } ?? Digest.sha256Hex(contents) }
            return (
                resource.id, resource.unit, resource.path, Drift(actual: installed.map(fingerprint), applied: recorded, desired: fingerprint(resource.contents))
            )
        }
        let desiredIDs = Set(desired.map(\.id))
        for record in observation.applied.values where !desiredIDs.contains(record.id) && stages.contains(record.unit.stage) {
            let installed = observation.actual[record.id] ?? nil
            items.append(
                (
                    record.id, record.unit, record.path,
                    Drift(actual: installed.map { digests.digest($0, like: record.digest) }, applied: record.digest, desired: nil)
                ))
        }
        items.sort { $0.id < $1.id }
        let drifted = items.filter(\.state.isDrift)
        return KindDrift(
            kind: name, findings: items.map { DriftFinding(id: $0.id, kind: name, state: $0.state, detail: "\($0.path) (\($0.unit))") }, member: "resources",
            entries: items.map {
                .object([("id", .string($0.id)), ("unit", .string($0.unit.key)), ("path", .string($0.path)), ("drift", .string($0.state.rawValue))])
            },
            lines: drifted.map { "\($0.state.rawValue): \($0.id)  \($0.path) (\($0.unit))" }
                + [drifted.isEmpty ? "No drift: \(items.count) resources as phoenix applied them." : "\(drifted.count) of \(items.count) resources drifted."])
    }

    /// What run `run` left installed, beside what is there now. A file kept only as a keyed hash
    /// cannot come back: when one is no longer as the run left it, the rollback is refused.
    public func observeRollback(to run: Int64, in context: KindContext) async throws(ResourceFailure) -> Observation {
        guard let store = context.store else { throw .cannotCheck(reason: "there is no state store to roll back from") }
        do throws(EngineError) {
            var (resources, withoutContents) = try await engine.stateCall { () throws(StateError) in try await store.snapshot(of: run) }
            // `--target`: only the guests' own resources, as in sync.
            if let scope = engine.scope {
                resources.removeAll { !scope.contains(id: $0.id, target: $0.target) }
                withoutContents.removeAll { !scope.contains(id: $0.id, target: $0.unit.target) }
            }
            let stages = Set(FileKind().stages)
            let applied = try await engine.applied(store)
            let actual = try await engine.observe(desired: resources, also: withoutContents, applied: applied, stages: stages)
            let changed = withoutContents.filter { record in (actual[record.id] ?? nil).map { !store.digests.matches($0, record.digest) } ?? false }
            let deleted = withoutContents.filter { (actual[$0.id] ?? nil) == nil }
            let refusal =
                changed.isEmpty && deleted.isEmpty
                ? nil : EngineError.notRestorable(run: run, changed: changed.map(\.id), deleted: deleted.map(\.id)).description
            let plan = Plan(
                resources: resources, stages: stages, actual: actual, applied: applied, preserve: Set(withoutContents.map(\.id)),
                notes: withoutContents.isEmpty
                    ? []
                    : ["\(withoutContents.count) files that may hold secrets (kept only as keyed hashes) are as run \(run) left them: nothing to put back"],
                digests: store.digests)
            return Observation(plan: plan, actual: actual, applied: applied, mirror: false, refusal: refusal)
        } catch {
            throw Self.failure(error)
        }
    }

    public func rollback(to run: Int64, _ observation: Observation, in context: KindContext) throws(ResourceFailure) -> KindPlan<UnitChange> {
        if let refusal = observation.refusal { throw .invalid(reason: refusal) }
        return plan(observation, in: context)
    }

    // MARK: Helpers

    func unitContext(_ unit: ServiceUnit, _ context: StepContext) -> UnitContext {
        let machine = StatsMachine(engine.machines.machine(for: unit.target), stats: context.stats)
        return UnitContext(
            unit: unit, machine: machine, commands: engine.estate.settings.commands(for: unit.serviceName), estate: engine.estate, timeouts: engine.timeouts)
    }

    /// The stack files' rsync driver when they go out from the stacks directory.
    func mirror(_ change: UnitChange, _ driver: any UnitDriver) -> StackFilesDriver? {
        change.unit == .stackFiles && change.mirror ? driver as? StackFilesDriver : nil
    }

    func say(_ unit: ServiceUnit, _ text: String, _ context: StepContext) {
        engine.reporter.report("\(unit.stage.rawValue): \(unit): \(text)")
    }

    static func failure(_ error: EngineError) -> ResourceFailure {
        switch error {
        case let .state(error): return .cannotCheck(reason: "the state store: \(error)")
        case .observe: return .cannotCheck(reason: error.description)
        case .notRestorable: return .invalid(reason: error.description)
        }
    }

    /// A failed check or command of a unit, in the engine's words (`nginx -t failed: …`).
    static func failure(_ error: UnitFailure, unit: ServiceUnit) -> ResourceFailure {
        .refused(system: unit.description, call: error.check, message: "\(error.check) failed: \(error.output)")
    }
}

extension ServiceUnit {
    /// The machine a unit lives on, as the executor's per-target limit names it.
    var targetKey: String {
        switch target {
        case .host, .report: return "host"
        case let .guest(id): return "guest/\(id)"
        }
    }
}

/// A machine whose calls count into a step's stats (the calls of its resources); the command's own
/// machines count the writes.
struct StatsMachine: Machine {
    let base: any Machine
    let stats: RunStats

    init(_ base: any Machine, stats: RunStats) {
        self.base = base
        self.stats = stats
    }

    var name: String { base.name }
    func commandPath(_ path: String) -> String { base.commandPath(path) }
    func rsyncTarget(_ path: String) -> (options: [String], destination: String)? { base.rsyncTarget(path) }

    func read(_ path: String) async throws(MachineError) -> String? {
        stats.count(.machineCalls)
        return try await base.read(path)
    }

    func read(all paths: [String]) async throws(MachineError) -> [String: String?] {
        guard !paths.isEmpty else { return [:] }
        stats.count(.machineCalls)
        return try await base.read(all: paths)
    }

    func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        stats.count(.machineCalls)
        return try await base.inspect(all: paths)
    }

    func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError) {
        stats.count(.machineCalls)
        try await base.setOwnership(path, owner: owner, group: group, mode: mode)
    }

    func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        stats.count(.machineCalls)
        try await base.write(path, contents, mode: mode)
    }

    func rename(_ from: String, to: String) async throws(MachineError) {
        stats.count(.machineCalls)
        try await base.rename(from, to: to)
    }

    func remove(_ path: String) async throws(MachineError) {
        stats.count(.machineCalls)
        try await base.remove(path)
    }

    func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        stats.count(.machineCalls)
        return try await base.run(argv, timeout: timeout)
    }
}
