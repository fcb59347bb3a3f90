import Foundation
import PhoenixCore

/// The long-running agent: a poll of the branch's head (once at start, then every interval with
/// jitter), webhooks, the drift check and the hourly certificate check all feed one `RunQueue`; one
/// worker performs its runs through the `CommitRunner`, and each ended run is reported (commit
/// status, notifications, metrics, log).
///
/// A commit whose run failed is not tried again at every poll: the next try waits twice as long
/// each time (from one interval up to an hour); a new commit is tried at once.
public actor Agent {
    public struct Settings: Sendable {
        /// The estate's name in statuses and notifications.
        public var estateName: String
        public var interval: Double
        /// Each wait between polls is the interval, plus or minus this fraction of it.
        public var jitter: Double
        public var driftInterval: Double
        public var certificateInterval: Double
        /// How long the agent stays quiet after a job before it hands back the memory the job
        /// touched.
        public var quietBeforeRelease: Double = 15
        /// The link to a run, for statuses and notifications (nil: none).
        public var runLink: @Sendable (Int64) -> String?

        public init(
            estateName: String, interval: Double = 60, jitter: Double = 0.1, driftInterval: Double = 600, certificateInterval: Double = 3600,
            runLink: @escaping @Sendable (Int64) -> String? = { _ in nil }
        ) {
            self.estateName = estateName
            self.interval = interval
            self.jitter = jitter
            self.driftInterval = driftInterval
            self.certificateInterval = certificateInterval
            self.runLink = runLink
        }
    }

    /// Where ended runs are told.
    public struct Reports: Sendable {
        public var status: CommitStatusReporter?
        public var notifier: Notifier?

        public init(status: CommitStatusReporter? = nil, notifier: Notifier? = nil) {
            self.status = status
            self.notifier = notifier
        }
    }

    /// One line of the agent's log.
    public enum Level: String, Sendable { case info, warning, error }

    /// Whether the watcher is alive: the last successful poll is younger than three intervals. A
    /// standby is healthy while it can read the store, and names the active agent.
    public struct Health: Sendable, Equatable {
        public let healthy: Bool
        public let reason: String
        public let lastSuccessfulPoll: Date?
        public var role: Role = .active
    }

    /// Several agents may point at one state store (PostgreSQL): one is active and does the work,
    /// the others serve the dashboard and the API read-only and take over when its session ends.
    public struct Standby: Sendable {
        public var leasing: any AgentLeasing
        public var identity: AgentIdentity
        /// How often the active agent proves it is alive, and a standby tries to take over.
        public var heartbeat: Duration

        public init(leasing: any AgentLeasing, identity: AgentIdentity, heartbeat: Duration = .seconds(10)) {
            self.leasing = leasing
            self.identity = identity
            self.heartbeat = heartbeat
        }
    }

    public enum Role: Sendable, Equatable {
        case active
        /// Waiting to take over from the active agent (nil: none is recorded right now).
        case standby(active: AgentIdentity?)

        public var name: String {
            switch self {
            case .active: "active"
            case .standby: "standby"
            }
        }
    }

    public let settings: Settings
    public let queue: RunQueue
    public let metrics: AgentMetrics
    /// Each run's resources as they settle, and its end.
    nonisolated public let events = RunEvents()
    private let runner: CommitRunner
    private let reports: Reports
    private let log: @Sendable (Level, String) -> Void

    private var lastSuccessfulPoll: Date?
    private var lastPollFailure: String?
    private var currentCommit: String?
    private var pendingStatus: Set<Int64> = []
    private var failedCommit: (commit: String, tries: Int, retryAt: Date)?
    private var lastDrift: [DriftFinding]?
    private var settledSinceStart = false
    /// Jobs started or ended, and the release waiting for quiet.
    private var activity = 0
    private var releaseTimer: Task<Void, Never>?
    private var lastRunFailures: [String: ResourceFailure] = [:]
    private var lastWebhook: Date?
    private let standby: Standby?
    private var stopping = false
    /// This agent's part among those pointed at the store.
    public private(set) var role: Role = .active
    /// Why the agent stopped by itself (its lease was lost), when it did: the process exits 1.
    public private(set) var failure: String?

    /// The estate stage by stage, as the last drift check found it and the runs since left it
    /// (nil before the first check).
    public private(set) var status: EstateStatus?
    /// The guests, stacks and certificates as the agent last read them.
    public private(set) var readings = EstateReadings()
    /// When each installed certificate expires, by name, as the last certificate check read them.
    public var certificateExpiries: [String: Date] {
        Dictionary(
            (readings.certificates?.status?.certificates ?? []).compactMap { certificate in certificate.facts.map { (certificate.name, $0.notAfter) } }
        ) { first, _ in first }
    }
    /// The commit the running job works on.
    public var runningCommit: String? { currentCommit }
    /// When the last webhook was accepted.
    public var lastWebhookAccepted: Date? { lastWebhook }

    /// Takes `status` as the estate's, as a drift check leaves it (the dashboard's benchmark feeds
    /// one without a drift check).
    public func adopt(_ status: EstateStatus) { self.status = status }

    /// Takes `readings` as what the agent read of the estate (the dashboard's benchmark).
    public func adopt(_ readings: EstateReadings) { self.readings = readings }

    /// A webhook was accepted (for the overview).
    public func webhookAccepted(at date: Date = Date()) { lastWebhook = date }

    public init(
        settings: Settings, runner: CommitRunner, store: any StateBackend, metrics: AgentMetrics = AgentMetrics(), reports: Reports = Reports(),
        standby: Standby? = nil, log: @escaping @Sendable (Level, String) -> Void = { _, _ in }
    ) {
        self.standby = standby
        self.role = standby == nil ? .active : .standby(active: nil)
        self.settings = settings
        self.queue = RunQueue(store: store)
        self.metrics = metrics
        self.reports = reports
        self.log = log
        self.runner = runner
    }

    // MARK: Running

    /// Polls, checks and performs runs until `shutdown()`; returns once the running job has
    /// stopped at its boundary.
    public func run() async {
        // Standing by first, when other agents may hold the store: the work starts once this one is active.
        if let standby, await !becomeActive(standby) {
            log(.info, "stopped")
            return
        }
        // Runs an earlier agent queued and never started: they end here, the poll plans afresh.
        for run in await (try? runner.store.runs(limit: 200, before: nil)) ?? [] where run.outcome == "queued" {
            try? await runner.store.finishRun(run.id, outcome: .interrupted, summary: "the agent stopped before this run started")
        }
        log(
            .info,
            "watching \(runner.settings.branch) every \(AgentDuration.text(settings.interval)), drift every \(AgentDuration.text(settings.driftInterval))")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.work() }
            group.addTask {
                await self.repeatedly(every: self.settings.interval, jitter: self.settings.jitter, first: 0) { agent in
                    await agent.poll()
                    // What starting touched goes back once; a poll alone then touches the same pages each time.
                    if !agent.settledSinceStart { await agent.settle() }
                }
            }
            group.addTask {
                // The first check soon after start: the overview has the estate's state early.
                await self.repeatedly(every: self.settings.driftInterval, jitter: 0.05, first: min(30, self.settings.driftInterval)) {
                    await $0.checkDrift()
                    await $0.settle()
                }
            }
            // The certificates are looked at soon after start (the expiry metric), then every interval.
            group.addTask {
                await self.repeatedly(every: self.settings.certificateInterval, jitter: 0.05, first: min(60, self.settings.certificateInterval)) {
                    await $0.checkCertificates()
                    await $0.settle()
                }
            }
            // The worker ends when the queue is closed; the timers end with it.
            await group.next()
            group.cancelAll()
        }
        releaseTimer?.cancel()
        log(.info, "stopped")
    }

    /// Tries to take the lease every heartbeat until it holds it (true) or the agent is shut
    /// down (false). Meanwhile the role names the active agent.
    private func becomeActive(_ standby: Standby) async -> Bool {
        var told: AgentIdentity?
        while !stopping {
            do {
                let claimed = try await standby.leasing.claimActive(standby.identity, heartbeat: standby.heartbeat) { [weak self] reason in
                    Task { await self?.leaseLost(reason) }
                }
                if claimed {
                    role = .active
                    log(.info, "active: this agent holds the lease of \(standby.identity.host)")
                    return true
                }
                let active = try await standby.leasing.activeAgent()
                role = .standby(active: active)
                if active != told, let active { log(.info, "standby: the active agent is \(active); this one takes over when its session ends") }
                told = active
            } catch {
                log(.warning, "standby: the state store cannot be read: \(error)")
            }
            let until = ContinuousClock.now.advanced(by: standby.heartbeat)
            while !stopping, ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(200)) }
        }
        return false
    }

    /// The active agent's lease is gone (its session ended): another agent may take over at any
    /// moment, so this one stops, and its process exits 1.
    private func leaseLost(_ reason: String) async {
        guard failure == nil, !stopping else { return }
        failure = "the active agent's lease was lost: \(reason)"
        log(.error, "\(failure!); stopping, a standby takes over")
        await shutdown()
    }

    /// Takes no new work; the running job stops at its next boundary and is recorded interrupted.
    public func shutdown() async {
        stopping = true
        log(.info, "shutting down: the running job stops at its next boundary")
        await queue.close()
        events.finishAll()
    }

    /// Queues a run (a webhook, the API, an approval).
    public func submit(_ request: RunQueue.Request) async throws(RunQueue.Refusal) -> RunQueue.Ticket {
        let ticket = try await queue.submit(request)
        metrics.pendingRun(await queue.state.pending != nil)
        return ticket
    }

    public func health(now: Date = Date()) -> Health {
        if case let .standby(active) = role {
            return Health(
                healthy: true,
                reason: "standby: " + (active.map { "the active agent is \($0)" } ?? "no agent is active; this one takes over at its next try"),
                lastSuccessfulPoll: nil, role: role)
        }
        guard let last = lastSuccessfulPoll else {
            return Health(
                healthy: false, reason: "no poll of the repository has succeeded yet" + (lastPollFailure.map { ": \($0)" } ?? ""), lastSuccessfulPoll: nil)
        }
        let age = now.timeIntervalSince(last)
        guard age < 3 * settings.interval else {
            return Health(
                healthy: false,
                reason: "the last successful poll was \(Int(age)) s ago (more than three intervals of \(AgentDuration.text(settings.interval)))"
                    + (lastPollFailure.map { "; the last poll failed: \($0)" } ?? ""),
                lastSuccessfulPoll: last)
        }
        return Health(healthy: true, reason: "the last successful poll was \(Int(age)) s ago", lastSuccessfulPoll: last)
    }

    private func repeatedly(every interval: Double, jitter: Double, first: Double? = nil, _ body: @Sendable (isolated Agent) async -> Void) async {
        var wait = first ?? interval
        while true {
            do { try await Task.sleep(for: .seconds(wait)) } catch { return }
            await body(self)
            wait = interval * (1 + Double.random(in: -jitter...jitter))
        }
    }

    private func work() async {
        var runner = self.runner
        runner.started = { run, commit in await self.started(run, commit) }
        let events = self.events
        runner.settled = { run, resource in events.publish(run, .resource(resource)) }
        runner.said = { run, line in events.publish(run, .log(line)) }
        while let job = await queue.next() {
            activity += 1
            metrics.pendingRun(await queue.state.pending != nil)
            log(.info, "run \(job.run) starts (\(job.request.trigger.kind.rawValue))")
            let result = await runner.perform(job)
            await queue.finished(job.run)
            events.publish(job.run, .ended(outcome: result.outcome.rawValue, summary: result.summary))
            metrics.pendingRun(await queue.state.pending != nil)
            await ended(result)
            if [.succeeded, .failed, .rolledBack].contains(result.outcome) { await readAgain() }
            await settle()
        }
    }

    /// After a job or a check: once the agent has been quiet for `Settings.quietBeforeRelease`
    /// (no job started or ended since, nothing running or waiting), the program code and free heap
    /// the job touched go back to the system (`IdleMemory`), so that an idle agent holds what
    /// polling needs. Not at once: a burst of commits would otherwise read its code back from disk
    /// between each two runs (seen in the debug build under load: webhooks slowed to seconds).
    func settle() async {
        settledSinceStart = true
        activity += 1
        let seen = activity
        let quiet = settings.quietBeforeRelease
        releaseTimer?.cancel()
        releaseTimer = Task { [weak self] in
            do { try await Task.sleep(for: .seconds(quiet)) } catch { return }
            await self?.releaseIfQuiet(since: seen)
        }
    }

    private func releaseIfQuiet(since seen: Int) async {
        guard seen == activity else { return }
        let state = await queue.state
        guard state.running == nil, state.pending == nil, seen == activity else { return }
        _ = IdleMemory.release()
    }

    // MARK: Triggers

    /// One `ls-remote`; a new head (not applied, and not a failed commit waiting for its retry)
    /// queues a run.
    func poll() async {
        let head: String
        do {
            head = try await runner.git.head(branch: runner.settings.branch)
        } catch {
            lastPollFailure = "\(error)"
            metrics.poll(succeeded: false)
            log(.warning, "poll failed: \(error)")
            return
        }
        lastSuccessfulPoll = Date()
        lastPollFailure = nil
        metrics.poll(succeeded: true)
        let applied = await (try? runner.store.lastAppliedCommit())?.commit
        guard head != applied, head != currentCommit else { return }
        if let failed = failedCommit, failed.commit == head, Date() < failed.retryAt { return }
        guard await queue.state.pending == nil else { return }
        do {
            let ticket = try await submit(RunQueue.Request(RunTrigger(.poll)))
            log(.info, "new commit \(head.prefix(12)) on \(runner.settings.branch): run \(ticket.run)")
        } catch {
            log(.error, "cannot queue a run: \(error)")
        }
    }

    func checkDrift() async {
        do {
            guard let (checked, read) = try await runner.drift() else { return }
            status = checked.after(runFailures: lastRunFailures)
            (readings.guests, readings.stacks) = (read.guests, read.stacks)
            let (findings, commit) = (checked.findings, checked.commit)
            lastDrift = findings
            metrics.driftedResources(findings.count)
            guard !findings.isEmpty else { return }
            let listed = findings.prefix(5).map { "\($0.id) (\($0.state.rawValue))" }.joined(separator: ", ")
            log(.warning, "drift from \(commit.prefix(12)): \(findings.count) resource(s): \(listed)\(findings.count > 5 ? ", …" : "")")
            let heal = try await runner.appliedEstate()?.estate.settings.agent.selfHeal ?? []
            guard !heal.isEmpty else { return }
            let ticket = try await submit(RunQueue.Request(RunTrigger(.drift), stages: heal.sorted()))
            log(.info, "self-heal of \(heal.map(\.rawValue).sorted().joined(separator: ", ")): run \(ticket.run)")
        } catch {
            log(.warning, "the drift check failed: \(error)")
        }
    }

    /// After a run that changed something: the guests and stacks as it left them.
    private func readAgain() async {
        do {
            guard let read = try await runner.readings() else { return }
            (readings.guests, readings.stacks) = (read.guests, read.stacks)
        } catch {
            log(.warning, "cannot read the guests and stacks after the run: \(error)")
        }
    }

    func checkCertificates() async {
        do {
            switch try await runner.certificates() {
            case let .success(status)?: readings.certificates = .read(status, at: Date())
            case let .failure(failure)?: readings.certificates = .failed(failure.words, at: Date())
            case nil: break
            }
            for (name, expiry) in certificateExpiries { metrics.certificateExpiry(name, at: expiry) }
            guard try await runner.certificatesDue() else { return }
            let ticket = try await submit(RunQueue.Request(RunTrigger(.schedule), stages: [.certs]))
            log(.info, "certificates are due: run \(ticket.run)")
        } catch {
            log(.warning, "the certificate check failed: \(error)")
        }
    }

    /// The drift the last check found (nil before the first).
    public var drift: [DriftFinding]? { lastDrift }

    /// A person approves the plan `run` waits with: a run with trigger `approval` applies that
    /// plan, or plans again when something changed since. One approval a run.
    public func approve(_ run: Int64, by actor: String?) async throws(AgentRefusal) -> RunQueue.Ticket {
        guard let record = try? await runner.store.run(run) else { throw AgentRefusal(status: 404, message: "no run \(run)") }
        guard record.outcome == RunOutcome.waitingForApproval.rawValue else {
            throw AgentRefusal(status: 409, message: "run \(run) is \(record.outcome), not waiting for approval")
        }
        if let approval = await ((try? runner.store.runs(limit: 500, before: nil)) ?? []).last(where: { $0.trigger?.approves == run }) {
            throw AgentRefusal(
                status: 409, message: "run \(run) was approved already: run \(approval.id) took it up (\(approval.outcome)), not waiting for approval")
        }
        do {
            return try await submit(RunQueue.Request(RunTrigger(.approval, actor: actor, approves: run), approving: run))
        } catch {
            throw AgentRefusal(status: 409, message: error.description)
        }
    }

    /// A person discards the plan `run` waits with: the run is recorded discarded (nothing of it
    /// is applied, and it can no longer be approved), and its commit's status says so.
    public func discard(_ run: Int64, by actor: String?) async throws(AgentRefusal) {
        guard let record = try? await runner.store.run(run) else { throw AgentRefusal(status: 404, message: "no run \(run)") }
        guard record.outcome == RunOutcome.waitingForApproval.rawValue else {
            throw AgentRefusal(status: 409, message: "run \(run) is \(record.outcome), not waiting for approval")
        }
        let summary = "discarded by \(actor ?? "a person"): \(record.summary)"
        do { try await runner.store.finishRun(run, outcome: .discarded, summary: summary) } catch {
            throw AgentRefusal(status: 500, message: "the state store: \(error)")
        }
        log(.info, "run \(run) \(summary)")
        if let commit = record.commit {
            await reports.status?.report(commit: commit, state: .canceled, description: "run \(run) \(summary)", targetURL: settings.runLink(run))
        }
    }

    // MARK: Reports

    private func started(_ run: Int64, _ commit: String) async {
        currentCommit = commit
        pendingStatus.insert(run)
        await reports.status?.report(commit: commit, state: .pending, description: "phoenix is planning run \(run)", targetURL: settings.runLink(run))
    }

    private func ended(_ result: CommitRun) async {
        currentCommit = nil
        if [.succeeded, .noChanges, .failed, .rolledBack].contains(result.outcome), result.diagnostics.isEmpty {
            lastRunFailures = result.failures
            status = status?.after(runFailures: result.failures)
        }
        metrics.run(trigger: result.trigger.kind.rawValue, outcome: result.outcome.rawValue, seconds: result.seconds)
        let level: Level = [.failed, .rolledBack].contains(result.outcome) ? .error : .info
        log(level, "run \(result.run) \(result.outcome.rawValue)\(result.commit.map { " at \($0.prefix(12))" } ?? ""): \(result.summary)")
        if let commit = result.commit {
            if [.failed, .rolledBack].contains(result.outcome) {
                let tries = failedCommit?.commit == commit ? failedCommit!.tries + 1 : 1
                let wait = min(3600, settings.interval * pow(2, Double(tries - 1)))
                failedCommit = (commit, tries, Date().addingTimeInterval(wait))
            } else if [.succeeded, .noChanges].contains(result.outcome) {
                failedCommit = nil
            }
        }
        guard pendingStatus.remove(result.run) != nil, let commit = result.commit else { return }
        let link = settings.runLink(result.run)
        if let state = Self.statusState(result.outcome) {
            await reports.status?.report(
                commit: commit, state: state, description: "run \(result.run) \(result.outcome.rawValue): \(result.summary)", targetURL: link)
        }
        guard let notifier = reports.notifier else { return }
        switch result.outcome {
        case .succeeded, .noChanges:
            await notifier.runEnded(
                estate: settings.estateName, commit: commit, run: String(result.run), outcome: result.outcome.rawValue, url: link, failure: nil)
        case .failed, .rolledBack:
            let cause =
                !result.diagnostics.isEmpty
                ? NotificationCause.invalidCommit(diagnostics: result.diagnostics)
                : result.failures.isEmpty
                    ? NotificationCause(key: "run failed: \(result.summary)", summary: result.summary)
                    : NotificationCause.failedResources(result.failures.sorted { $0.key < $1.key }.map { ($0.key, $0.value.category) })
            await notifier.runEnded(
                estate: settings.estateName, commit: commit, run: String(result.run), outcome: result.outcome.rawValue, url: link, failure: cause)
        case .waitingForApproval, .superseded, .interrupted, .discarded:
            return
        }
    }

    /// The commit status a run's outcome leaves (nil: the status stays pending — a run that waits
    /// for approval, or was interrupted and resumes).
    static func statusState(_ outcome: RunOutcome) -> CommitState? {
        switch outcome {
        case .succeeded, .noChanges: return .success
        case .failed, .rolledBack: return .failure
        case .superseded, .discarded: return .canceled
        case .waitingForApproval, .interrupted: return nil
        }
    }
}

/// Why the agent refused a person's request, with the HTTP status that says it.
public struct AgentRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public var description: String { message }
}
