import Foundation
import Synchronization

/// Data-parallel helpers for pure work on large estates. Results keep the input order, so output
/// never depends on scheduling.
public enum Concurrent {
    /// `body(0) ..< body(count - 1)` on every core.
    public static func map<Value: Sendable>(_ count: Int, _ body: @Sendable (Int) -> Value) -> [Value] {
        guard count > 1 else { return (0..<count).map(body) }
        // One slot per index: each iteration fills only its own, and all are read once
        // `concurrentPerform` has returned.
        let slots = Mutex<[Value?]>(Array(repeating: nil, count: count))
        DispatchQueue.concurrentPerform(iterations: count) { index in
            let value = body(index)
            slots.withLock { $0[index] = value }
        }
        return slots.withLock { $0.map { $0! } }
    }

    /// `items.compactMap(transform)`, in chunks on every core once there are enough items to be worth it.
    public static func compactMap<Item: Sendable, Value: Sendable>(
        _ items: [Item], minimumChunk: Int = 512, _ transform: @Sendable (Item) -> Value?
    ) -> [Value] {
        let chunks = min(ProcessInfo.processInfo.activeProcessorCount, items.count / minimumChunk)
        guard chunks > 1 else { return items.compactMap(transform) }
        let size = (items.count + chunks - 1) / chunks
        return map(chunks) { chunk in
            items[(chunk * size)..<min(items.count, (chunk + 1) * size)].compactMap(transform)
        }.flatMap { $0 }
    }
}
