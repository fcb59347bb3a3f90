import PhoenixCore
import Synchronization

/// A bounded memory of recent webhook delivery ids and the run each started, so a redelivery
/// starts nothing (the server answers it 200 `{"duplicate": true, "run": ID}`). Thread-safe; the
/// oldest ids are forgotten first. A restarted agent recalls the ids its recorded runs carry
/// (`recall`); a delivery that joined a waiting run is not recorded, and its redelivery after a
/// restart asks for a run that finds its commit applied.
public final class RecentDeliveries: Sendable {
    /// What `claim` found.
    public enum Claim: Sendable, Equatable {
        /// Not seen before: it is now recorded; start the run and `assign` it.
        case new
        /// Seen before; `run` is the run it started (nil while that run is still being started,
        /// or when it started none).
        case duplicate(run: String?)
    }

    private struct State {
        var runs: [String: String?] = [:]
        var order: [String] = []
        var head = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 1000) {
        precondition(capacity > 0, "a delivery memory holds at least one id")
        self.capacity = capacity
    }

    /// Records `delivery` unless it was seen, in one step, so two copies arriving at once cannot
    /// both be new.
    public func claim(_ delivery: String) -> Claim {
        state.withLock { state in
            if let run = state.runs[delivery] { return .duplicate(run: run) }
            if state.order.count < capacity {
                state.order.append(delivery)
            } else {
                state.runs[state.order[state.head]] = nil
                state.order[state.head] = delivery
                state.head = (state.head + 1) % capacity
            }
            state.runs[delivery] = .some(nil)
            return .new
        }
    }

    /// Records the run a claimed delivery started (nothing when the id was already forgotten).
    public func assign(run: String, to delivery: String) {
        state.withLock { state in
            if state.runs[delivery] != nil { state.runs[delivery] = .some(run) }
        }
    }

    /// Remembers the deliveries that started `runs` (the state store's, newest first, as
    /// `StateBackend.runs` lists them), up to the capacity.
    public func recall(_ runs: [RunRecord]) {
        for record in runs.prefix(capacity).reversed() {
            guard let delivery = record.trigger?.delivery, claim(delivery) == .new else { continue }
            assign(run: String(record.id), to: delivery)
        }
    }

    /// Whether `delivery` was seen, and the run it started.
    public func lookup(_ delivery: String) -> Claim? {
        state.withLock { state in state.runs[delivery].map { .duplicate(run: $0) } }
    }

    /// How many ids are remembered.
    public var count: Int { state.withLock { $0.runs.count } }
}
