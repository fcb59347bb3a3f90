import Foundation
import PhoenixCore
import PhoenixServices
import Synchronization

/// What the agent needs to converge a commit: the same services the CLI calls, over the adapters
/// its command built.
public struct AgentServices: Sendable {
    /// A sync service lent for one plan, run or drift check, and how to give its adapters back.
    public struct Lease: Sendable {
        public let service: SyncService
        public let release: @Sendable () async -> Void

        public init(service: SyncService, release: @escaping @Sendable () async -> Void) {
            self.service = service
            self.release = release
        }
    }

    /// Loads and validates the estate of a checked-out tree.
    public var load: @Sendable (_ configDirectory: String, _ stacksDirectory: String) -> EstateLoader.Result
    /// The sync service for an estate and stages, over the live adapters.
    public var lease: @Sendable (_ estate: Estate, _ stages: [SyncStage], _ stacksDirectory: String) async throws -> Lease

    public init(
        load: @escaping @Sendable (String, String) -> EstateLoader.Result,
        lease: @escaping @Sendable (Estate, [SyncStage], String) async throws -> Lease
    ) {
        self.load = load
        self.lease = lease
    }

    /// Runs `body` with a leased service; the adapters are given back however it ends.
    public func with<T: Sendable>(
        _ estate: Estate, _ stages: [SyncStage], _ stacksDirectory: String, _ body: (SyncService) async throws -> T
    ) async throws -> T {
        let lease = try await lease(estate, stages, stacksDirectory)
        do {
            let result = try await body(lease.service)
            await lease.release()
            return result
        } catch {
            await lease.release()
            throw error
        }
    }
}

/// How one of the agent's runs ended: what the reports (commit status, notifications, metrics,
/// the API) are made from.
public struct CommitRun: Sendable, Equatable {
    public let run: Int64
    public let trigger: RunTrigger
    public var commit: String?
    public var previousCommit: String?
    public var outcome: RunOutcome = .failed
    public var summary = ""
    /// The stages a plan that waits for approval would change (the runs the service finishes
    /// record their own).
    public var stages: Set<SyncStage> = []
    /// The failed resources by id, with how each failed (a notification names their categories).
    public var failures: [String: ResourceFailure] = [:]
    /// The errors of an invalid commit, as `validate` prints them.
    public var diagnostics: [String] = []
    public var seconds = 0.0
}

/// Converges the estate to the head of the watched branch, one queued run at a time: a clean tree
/// of exactly that commit, validated, planned (the plan recorded with the run), then applied
/// through the sync service; stages listed in `phoenix.agent.approve` wait for a person.
public struct CommitRunner: Sendable {
    public struct Settings: Sendable {
        public var branch: String
        /// Where the configuration and the stacks are inside the repository.
        public var configPath: String
        public var stacksPath: String
        /// Check every new commit's signature (`--verify-commits`).
        public var verifySignatures: Bool
        /// How long to wait between tries while a person's run holds the lock.
        public var lockRetry: Double
        /// The stages the agent converges (every stage unless narrowed, `--stages`).
        public var stages: [SyncStage]

        public init(
            branch: String, configPath: String = "etc", stacksPath: String = "stacks", verifySignatures: Bool = false, lockRetry: Double = 2,
            stages: [SyncStage] = KindRegistry.standard.stages
        ) {
            self.stages = stages
            self.branch = branch
            self.configPath = configPath
            self.stacksPath = stacksPath
            self.verifySignatures = verifySignatures
            self.lockRetry = lockRetry
        }
    }

    public let settings: Settings
    public let git: any GitRemote
    public let store: any StateBackend
    public let services: AgentServices
    /// Told when a run has its commit and starts planning (a commit status goes pending).
    public var started: @Sendable (_ run: Int64, _ commit: String) async -> Void = { _, _ in }
    /// Told as each resource of an applying run settles.
    public var settled: @Sendable (_ run: Int64, _ resource: ResourceSettled) -> Void = { _, _ in }
    /// Told each progress line of an applying run as it is said.
    public var said: @Sendable (_ run: Int64, _ line: String) -> Void = { _, _ in }
    /// Log lines.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(settings: Settings, git: any GitRemote, store: any StateBackend, services: AgentServices) {
        self.settings = settings
        self.git = git
        self.store = store
        self.services = services
    }

    public func perform(_ job: RunQueue.Job) async -> CommitRun {
        let clock = Date()
        var result = CommitRun(run: job.run, trigger: job.request.trigger)
        await converge(job, into: &result)
        result.seconds = Date().timeIntervalSince(clock)
        // Runs that ended before the sync service took them over are finished here.
        let recorded = try? await store.run(job.run)
        if recorded?.outcome == "queued" || recorded?.finishedAt == nil {
            try? await store.finishRun(job.run, outcome: result.outcome, summary: result.summary, stages: result.stages)
        }
        return result
    }

    private func converge(_ job: RunQueue.Job, into result: inout CommitRun) async {
        func end(_ outcome: RunOutcome, _ summary: String) {
            result.outcome = outcome
            result.summary = summary
        }
        let previous = await (try? store.lastAppliedCommit())?.commit
        result.previousCommit = previous
        // 1. The commit: the branch's head now (a webhook only says "look"), or the approved run's.
        let commit: String
        do {
            if let approved = job.request.approving, let waiting = try await store.run(approved), let waitingCommit = waiting.commit {
                commit = waitingCommit
            } else {
                commit = try await git.head(branch: settings.branch)
            }
        } catch {
            return end(.failed, "\(error)")
        }
        result.commit = commit
        try? await store.annotateRun(job.run, commit: commit, previousCommit: previous, details: nil)
        let kind = job.request.trigger.kind
        if commit == previous, job.request.stages == nil, kind == .poll || kind == .webhook {
            return end(.noChanges, "\(Self.short(commit)) is applied already")
        }
        await started(job.run, commit)
        // A newer request while this run goes: a newer commit on the branch stops it at its next boundary.
        let watcher = Task { [git, branch = settings.branch] in
            for await _ in job.newerRequests {
                if let head = try? await git.head(branch: branch), head != commit {
                    job.control.stop(.superseded(by: head))
                    return
                }
            }
        }
        defer { watcher.cancel() }

        // 2. A clean tree of exactly this commit (the fetch brings the range the signatures are
        //    checked over), then the signatures from the last applied commit to this one, then
        //    the configuration it holds, validated. Nothing is applied before all three pass.
        let tree: GitTree
        do { tree = try await git.checkout(commit, branch: settings.branch) } catch { return end(.failed, "\(error)") }
        if settings.verifySignatures {
            do { try await git.verifySignatures(from: previous, to: commit) } catch { return end(.failed, "refused: \(error)") }
        }
        let stacksDirectory = "\(tree.path)/\(settings.stacksPath)"
        let loaded = services.load("\(tree.path)/\(settings.configPath)", stacksDirectory)
        guard let estate = loaded.estate, loaded.report.isUsable else {
            // Named as in the repository: the file's path inside it, then the JSON pointer.
            result.diagnostics = loaded.report.errors.map { diagnostic in
                let file = diagnostic.file.hasPrefix(tree.path + "/") ? String(diagnostic.file.dropFirst(tree.path.count + 1)) : diagnostic.file
                let pointer = diagnostic.pointer.description.isEmpty ? "" : "#\(diagnostic.pointer)"
                return "\(file)\(pointer): \(diagnostic.message)" + (diagnostic.hint.map { " (hint: \($0))" } ?? "")
            }
            await record(job.run, details: RunDetails(tree: tree, diagnostics: result.diagnostics))
            return end(.failed, "commit \(Self.short(commit)) is not a valid configuration: \(result.diagnostics.count) error(s)")
        }
        // 3. The plan, recorded with the run.
        let stages = job.request.stages.map { asked in settings.stages.filter(asked.contains) } ?? settings.stages
        let plan: SyncService.Outcome
        do {
            plan = try await services.with(estate, stages, stacksDirectory) { try await $0.plan(store: store) }
        } catch {
            return end(.failed, "the plan failed: \(error)")
        }
        var details = RunDetails(tree: tree, plan: plan.json())
        await record(job.run, details: details)
        if let stop = job.control.stopReason { return end(stop.outcome, stop.description) }
        guard plan.unplanned.isEmpty else {
            let why = plan.reports.compactMap { report in report.error.map { "\(report.kind): \($0)" } }.prefix(3).joined(separator: "; ")
            return end(.failed, "the plan is incomplete: \(plan.unplanned.joined(separator: ", ")) could not be planned" + (why.isEmpty ? "" : " (\(why))"))
        }
        // A run left unfinished (a crash, a kill) is resumed by the sync even when the plan is
        // empty: its journal names what may not have been reloaded or verified.
        let unfinished = await ((try? store.runs(limit: 20, before: nil)) ?? []).contains { $0.id != job.run && $0.outcome == "running" }
        guard plan.hasChanges || unfinished else { return end(.noChanges, "no changes") }
        // Changes to stages a person approves wait for them; an approval applies only the plan it saw.
        let gated = Self.stagesWithChanges(plan).intersection(estate.settings.agent.approve)
        if !gated.isEmpty {
            let digest = Self.digest(plan)
            details.planDigest = digest
            await record(job.run, details: details)
            var approvedDigest: String?
            if let approving = job.request.approving { approvedDigest = (try? await store.runDetails(approving)).flatMap(RunDetails.decode)?.planDigest }
            if approvedDigest != digest {
                result.stages = Self.stagesWithChanges(plan)
                let stageList = gated.map(\.rawValue).sorted().joined(separator: ", ")
                let why = job.request.approving == nil ? "" : "the plan changed since run \(job.request.approving!) was approved; "
                return end(.waitingForApproval, "\(why)changes to \(stageList) wait for approval: phoenix agent approve \(job.run)")
            }
        }
        // 4. Apply, under the lock: a person's run is waited for.
        while true {
            do {
                let lines = ProgressLines(limit: RunDetails.logLimit)
                let said = self.said
                TaskProgress.collect { text in
                    lines.append(text)
                    for line in text.split(separator: "\n") { said(job.run, String(line)) }
                }
                defer { TaskProgress.collect(nil) }
                let outcome = try await services.with(estate, stages, stacksDirectory) { service in
                    var service = service
                    service.control = job.control
                    let settled = self.settled
                    service.settled = { resource in settled(job.run, resource) }
                    return try await service.sync(store: store, command: "agent", queued: job.run)
                }
                details.resources = outcome.reports.flatMap(\.results).map(RunDetails.Resource.init)
                details.log = lines.all
                await record(job.run, details: details)
                // A resource not applied here yet (the CA root not exported) is no failure of the run.
                result.failures = Dictionary(
                    outcome.reports.flatMap { $0.failures.map { ($0.key, $0.value.failure) } }, uniquingKeysWith: { first, _ in first })
                let recorded = await (try? store.run(job.run))?.outcome
                return await end(
                    recorded.flatMap(RunOutcome.init(rawValue:)) ?? (outcome.succeeded ? .succeeded : .failed), (try? store.run(job.run))?.summary ?? "")
            } catch let StateError.locked(holder) {
                log("run \(job.run) waits for \(holder), which holds the lock")
                if let stop = job.control.stopReason { return end(stop.outcome, stop.description) }
                try? await Task.sleep(for: .seconds(settings.lockRetry))
            } catch {
                return end(.failed, "\(error)")
            }
        }
    }

    private func record(_ run: Int64, details: RunDetails) async {
        try? await store.annotateRun(run, commit: nil, previousCommit: nil, details: details.encoded())
    }

    static func stagesWithChanges(_ plan: SyncService.Outcome) -> Set<SyncStage> {
        Set(plan.reports.flatMap(\.results).filter { $0.outcome == .planned }.map(\.stage))
    }

    /// What a plan would change, as a fingerprint: an approval applies only the plan it was shown.
    static func digest(_ plan: SyncService.Outcome) -> String {
        let lines = plan.reports.flatMap(\.results).filter { $0.outcome == .planned }
            .map { "\($0.id) \($0.action) \($0.reasons.map(\.text).joined(separator: "; "))" }.sorted()
        return ContentDigests(key: nil).digest(lines.joined(separator: "\n"), sensitive: false)
    }

    static func short(_ commit: String) -> String { String(commit.prefix(12)) }
}

extension RunControl.Reason {
    /// The run outcome a stop leaves.
    public var outcome: RunOutcome {
        switch self {
        case .superseded: return .superseded
        case .shutdown: return .interrupted
        }
    }
}

extension CommitRunner {
    /// The estate as the last applied commit declares it (its tree is checked out again when it
    /// was pruned), or nil when no commit was applied yet.
    public func appliedEstate() async throws -> (estate: Estate, stacksDirectory: String, commit: String)? {
        guard let commit = try await store.lastAppliedCommit()?.commit else { return nil }
        let tree = try await git.checkout(commit, branch: settings.branch)
        let stacks = "\(tree.path)/\(settings.stacksPath)"
        let loaded = services.load("\(tree.path)/\(settings.configPath)", stacks)
        guard let estate = loaded.estate, loaded.report.isUsable else { return nil }
        return (estate, stacks, commit)
    }

    /// Every stage's drift from what the last applied commit declares: nil when nothing was
    /// applied yet.
    public func drift() async throws -> (status: EstateStatus, readings: EstateReadings)? {
        guard let applied = try await appliedEstate() else { return nil }
        return try await services.with(applied.estate, settings.stages, applied.stacksDirectory) { service in
            let drifts = try await service.drift(store: store)
            let nodes = service.graph().nodes
            var status = EstateStatus(
                commit: applied.commit, checked: Date(), stageOf: Dictionary(nodes.map { ($0.id, $0.stage) }, uniquingKeysWith: { first, _ in first }),
                kindOf: Dictionary(nodes.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first }), drifts: drifts, notApplied: service.notApplied)
            status.dependsOn = Dictionary(nodes.map { ($0.id, $0.dependsOn) }, uniquingKeysWith: { first, _ in first })
            return (status, await EstateReadings.read(service, store: store))
        }
    }

    /// The applied estate's guests and stacks as they are now (the stages of the two the agent
    /// converges; nil when nothing is applied or it converges neither).
    public func readings() async throws -> EstateReadings? {
        let stages = settings.stages.filter { [.guests, .stacks].contains($0) }
        guard !stages.isEmpty, let applied = try await appliedEstate() else { return nil }
        return try await services.with(applied.estate, stages, applied.stacksDirectory) { await EstateReadings.read($0, store: store) }
    }

    /// The applied estate's certificates as installed and served, as `certs status` reads them
    /// through the certificates kind (one bulk read per machine, one handshake per endpoint); nil
    /// when nothing is applied or the agent does not converge them.
    public func certificates() async throws -> Result<CertsStatus, ResourceFailure>? {
        guard settings.stages.contains(.certs), let applied = try await appliedEstate() else { return nil }
        return try await services.with(applied.estate, [.certs], applied.stacksDirectory) { await $0.readStatus(of: CertConvergence.self, store: store) }
    }

    /// Whether a certificate of the applied estate is due (missing, changed or inside its renewal
    /// window): a plan of the certs stage alone, which signs nothing.
    public func certificatesDue() async throws -> Bool {
        guard settings.stages.contains(.certs), let applied = try await appliedEstate() else { return false }
        return try await services.with(applied.estate, [.certs], applied.stacksDirectory) { try await $0.plan(store: store) }.hasChanges
    }
}

/// The last `limit` progress lines of a run, from whichever task says them.
final class ProgressLines: Sendable {
    private let lines = Mutex<[String]>([])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ line: String) {
        lines.withLock { lines in
            lines.append(contentsOf: line.split(separator: "\n").map(String.init))
            if lines.count > limit { lines.removeFirst(lines.count - limit) }
        }
    }

    var all: [String] { lines.withLock { $0 } }
}
