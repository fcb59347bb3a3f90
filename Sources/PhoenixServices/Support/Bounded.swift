/// `body` on every item, at most `limit` at once; the results in the items' order.
func bounded<Item: Sendable, Output: Sendable>(_ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async -> Output) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var next = 0
        func start() {
            guard next < items.count else { return }
            let index = next
            next += 1
            group.addTask { (index, await body(items[index])) }
        }
        for _ in 0..<max(1, limit) { start() }
        var results: [(Int, Output)] = []
        for await result in group {
            results.append(result)
            start()
        }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
