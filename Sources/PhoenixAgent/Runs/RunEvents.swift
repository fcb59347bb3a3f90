import Foundation
import PhoenixCore
import Synchronization

/// What happens in a run as it happens, for whoever watches it (the dashboard's live run page):
/// each resource as it settles and each progress line as it is said, then the run's end. Thread-safe; a watcher that falls behind
/// keeps the newest 1,000 events.
public final class RunEvents: Sendable {
    public enum Event: Sendable, Equatable {
        case resource(ResourceSettled)
        case log(String)
        case ended(outcome: String, summary: String)
    }

    private struct Watcher {
        let run: Int64
        let continuation: AsyncStream<Event>.Continuation
    }

    private let watchers = Mutex<[UUID: Watcher]>([:])

    public init() {}

    /// The events of `run` from now on; the stream ends with the run (or when the watcher stops).
    public func watch(_ run: Int64) -> AsyncStream<Event> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        continuation.onTermination = { [weak self] _ in _ = self?.watchers.withLock { $0.removeValue(forKey: id) } }
        watchers.withLock { $0[id] = Watcher(run: run, continuation: continuation) }
        return stream
    }

    public func publish(_ run: Int64, _ event: Event) {
        let continuations = watchers.withLock { $0.values.filter { $0.run == run }.map(\.continuation) }
        for continuation in continuations {
            continuation.yield(event)
            if case .ended = event { continuation.finish() }
        }
    }

    /// Ends every watch (the agent stops).
    public func finishAll() {
        let continuations = watchers.withLock { $0.values.map(\.continuation) }
        for continuation in continuations { continuation.finish() }
    }

    /// How many watch now.
    public var count: Int { watchers.withLock { $0.count } }
}
