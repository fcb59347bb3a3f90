import Foundation
import PhoenixCore

/// One run at a time per estate, and one pending slot that always holds the newest request: ten
/// pushes during a run give one more run, for whatever the branch holds when it starts. A request
/// that arrives while a run goes on is also told to that run (`Job.newerRequests`), so the run can
/// look for a newer commit and stop at its next boundary.
///
/// Every request gets a run id at once (the state store's `queued` run): a webhook is answered with
/// it before any git work, and requests that join the waiting run get the same id.
public actor RunQueue {
    /// What a caller asks for.
    public struct Request: Sendable {
        public var trigger: RunTrigger
        /// The stages to converge; nil: every stage.
        public var stages: [SyncStage]?
        /// The run waiting for approval that this request approves.
        public var approving: Int64?

        public init(_ trigger: RunTrigger, stages: [SyncStage]? = nil, approving: Int64? = nil) {
            self.trigger = trigger
            self.stages = stages
            self.approving = approving
        }
    }

    /// The run that will take a request up, and whether the request joined one already waiting.
    public struct Ticket: Sendable, Equatable {
        public let run: Int64
        public let joined: Bool
    }

    /// One run to perform.
    public struct Job: Sendable {
        public let run: Int64
        public let request: Request
        /// Stops the run at its next boundary between resources.
        public let control: RunControl
        /// One element for every request that arrived while this job runs.
        public let newerRequests: AsyncStream<Void>
        fileprivate let announce: AsyncStream<Void>.Continuation
    }

    /// Why a request was refused.
    public enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        /// The agent is stopping: it takes no new work.
        case closed
        /// An approval while a newer run waits: that run plans again and is the one to approve.
        case newerPending(run: Int64)
        case store(String)

        public var description: String {
            switch self {
            case .closed: return "the agent is shutting down and takes no new runs"
            case let .newerPending(run): return "a newer run (\(run)) is already waiting: it plans again, approve that one when it asks"
            case let .store(message): return "the state store: \(message)"
            }
        }
    }

    private let store: any StateBackend
    private let user: String
    private let host: String
    private var running: Job?
    private var pending: (run: Int64, request: Request)?
    private var waiter: CheckedContinuation<Job?, Never>?
    private var closed = false

    public init(store: any StateBackend, user: String = "phoenix-agent", host: String = ProcessInfo.processInfo.hostName) {
        self.store = store
        self.user = user
        self.host = host
    }

    /// The run now going and the one waiting, for health and metrics.
    public var state: (running: Int64?, pending: Int64?) { (running?.run, pending?.run) }
    /// Whether a caller of `next()` waits for a request.
    public var awaitsRequest: Bool { waiter != nil }

    /// Whether a submit is recording a new run in the store, and the submits that wait for it.
    private var recording = false
    private var afterRecording: [CheckedContinuation<Void, Never>] = []

    /// Queues `request`: into the waiting run when there is one (its stages widened to cover both),
    /// else as a new queued run.
    public func submit(_ request: Request) async throws(Refusal) -> Ticket {
        // While one submit records a new run (the store's call suspends), the others wait for it
        // and then join that run: a burst of requests queues one run, never two.
        while recording { await withCheckedContinuation { afterRecording.append($0) } }
        guard !closed else { throw .closed }
        running?.announce.yield(())
        if var waiting = pending {
            if request.approving != nil || waiting.request.approving != nil {
                throw .newerPending(run: waiting.run)
            }
            waiting.request.stages = Self.union(waiting.request.stages, request.stages)
            pending = waiting
            return Ticket(run: waiting.run, joined: true)
        }
        let run: Int64
        recording = true
        defer {
            recording = false
            let waiting = afterRecording
            afterRecording = []
            for submit in waiting { submit.resume() }
        }
        do {
            run = try await store.queueRun(command: "agent", user: user, host: host, pid: getpid(), trigger: request.trigger)
        } catch {
            throw .store(error.description)
        }
        pending = (run, request)
        startIfIdle()
        return Ticket(run: run, joined: false)
    }

    /// The next job, once the one before it is finished; nil after `close()`.
    public func next() async -> Job? {
        if let job = take() { return job }
        if closed { return nil }
        return await withCheckedContinuation { waiter = $0 }
    }

    /// The job `run` ended: the waiting one may start.
    public func finished(_ run: Int64) {
        guard running?.run == run else { return }
        running?.announce.finish()
        running = nil
        startIfIdle()
    }

    /// Takes no new requests, asks the running job to stop at its next boundary, and ends the
    /// waiting run as interrupted (it never started); `next()` returns nil from now on.
    public func close() async {
        closed = true
        running?.control.stop(.shutdown)
        let waiting = pending
        pending = nil
        waiter?.resume(returning: nil)
        waiter = nil
        if let waiting { try? await store.finishRun(waiting.run, outcome: .interrupted, summary: "the agent stopped before this run started") }
    }

    private func startIfIdle() {
        guard let waiter, let job = take() else { return }
        self.waiter = nil
        waiter.resume(returning: job)
    }

    private func take() -> Job? {
        guard running == nil, let waiting = pending else { return nil }
        pending = nil
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let job = Job(run: waiting.run, request: waiting.request, control: RunControl(), newerRequests: stream, announce: continuation)
        running = job
        return job
    }

    /// Two stage lists as one: nil (every stage) wins.
    static func union(_ first: [SyncStage]?, _ second: [SyncStage]?) -> [SyncStage]? {
        guard let first, let second else { return nil }
        return Array(Set(first).union(second)).sorted()
    }
}
