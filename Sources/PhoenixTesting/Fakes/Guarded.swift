import Synchronization

/// The state of a fake system behind one lock, and a way to wait until it reaches a condition:
/// every change wakes the waiters whose condition now holds (no polling, no fixed sleeps). A fake
/// can also hold a call where it is until the test lets it go, to order what a run does.
public final class Guarded<State: Sendable>: Sendable {
    private typealias Waiter = (condition: @Sendable (Snapshot) -> Bool, continuation: CheckedContinuation<Void, Never>)

    private struct Box {
        var value: State
        /// Call names held where they are, and the calls parked at each now.
        var held: Set<String> = []
        var parked: [String: [CheckedContinuation<Void, Never>]] = [:]
        var waiters: [Waiter] = []

        var snapshot: Snapshot { Snapshot(state: value, parked: parked.mapValues(\.count).filter { $0.value > 0 }) }
    }

    /// What a condition sees: the state, and how many calls are parked at each held call name.
    public struct Snapshot: Sendable {
        public let state: State
        public let parked: [String: Int]
    }

    private let box: Mutex<Box>

    public init(_ value: State) { box = Mutex(Box(value: value)) }

    /// Reads or changes the state; waiters whose condition holds afterwards go on.
    @discardableResult
    public func withLock<T: Sendable, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        try box.withLock { box throws(E) in
            let result = try body(&box.value)
            Self.wake(&box)
            return result
        }
    }

    /// The state as it is now.
    public var value: State { box.withLock { $0.value } }

    /// Returns once `condition` holds (at once when it already does).
    public func wait(until condition: @escaping @Sendable (Snapshot) -> Bool) async {
        await withCheckedContinuation { continuation in
            box.withLock { box in
                if condition(box.snapshot) { continuation.resume() } else { box.waiters.append((condition, continuation)) }
            }
        }
    }

    /// Calls named `call` park where they are (`pass`) until `release(call)`.
    public func hold(_ call: String) { box.withLock { _ = $0.held.insert(call) } }

    /// Lets the calls parked at `call` go on, and those to come pass.
    public func release(_ call: String) {
        box.withLock { box in
            box.held.remove(call)
            for continuation in box.parked.removeValue(forKey: call) ?? [] { continuation.resume() }
            Self.wake(&box)
        }
    }

    /// Where a fake's call named `call` parks while that name is held.
    public func pass(_ call: String) async {
        await withCheckedContinuation { continuation in
            box.withLock { box in
                guard box.held.contains(call) else { return continuation.resume() }
                box.parked[call, default: []].append(continuation)
                Self.wake(&box)
            }
        }
    }

    private static func wake(_ box: inout Box) {
        let snapshot = box.snapshot
        var still: [Waiter] = []
        for waiter in box.waiters {
            if waiter.condition(snapshot) { waiter.continuation.resume() } else { still.append(waiter) }
        }
        box.waiters = still
    }
}
