import Foundation

/// Data-parallel helpers for pure work on large estates. Results keep the input order, so output
/// never depends on scheduling.
public enum Concurrent {
    /// `body(0) ..< body(count - 1)` on every core.
    public static func map<Value: Sendable>(_ count: Int, _ body: @Sendable (Int) -> Value) -> [Value] {
        guard count > 1 else { return (0..<count).map(body) }
        let slots = ResultSlots<Value>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { slots[$0] = body($0) }
        return (0..<count).map { slots[$0] }
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

/// One slot per concurrent task: each task writes only its own index, and the slots are read after
/// `concurrentPerform` returns; the lock guards the array's storage.
final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private var values: [Value?]
    private let lock = NSLock()

    init(count: Int) { values = Array(repeating: nil, count: count) }

    subscript(index: Int) -> Value {
        get { lock.withLock { values[index]! } }
        set { lock.withLock { values[index] = newValue } }
    }
}
