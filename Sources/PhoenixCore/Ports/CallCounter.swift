import Synchronization

/// Counts round trips to one system, for `--stats` and the benchmarks; each also counted in a run's
/// `stats` when given (a step's own counters on the executor). Shared by a client and the views
/// `counting(into:)` makes of it.
public final class CallCounter: Sendable {
    private let calls = Mutex(0)
    private let stats: RunStats?
    private let counter: RunStats.Counter

    /// `stats`: where each call is also counted, as `counter` (the Proxmox API's unless said).
    public init(into stats: RunStats? = nil, as counter: RunStats.Counter = .proxmoxCalls) {
        self.stats = stats
        self.counter = counter
    }

    /// One more round trip.
    public func count() {
        calls.withLock { $0 += 1 }
        stats?.count(counter)
    }

    public var total: Int { calls.withLock { $0 } }
}
