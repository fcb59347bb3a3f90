/// The guest dependency graph and the order in which a verb walks it.
///
/// Semantics (fixing the original): clone edges count for `create` only, so starting a clone never
/// starts its template; templates are created but never started or stopped; `stop` walks the start
/// order backwards; `boot_order` breaks ties for LXCs and VMs alike, then the id.
public struct GuestGraph: Sendable {
    public enum EdgeKind: String, Sendable, Codable { case dependency, clone }

    /// `from` needs `to` (for a clone edge: `from` is cloned from `to`).
    public struct Edge: Sendable, Hashable {
        public let from: Int
        public let to: Int
        public let kind: EdgeKind
        public let active: Bool
        public let reason: String
    }

    public let verb: GraphVerb
    /// The guests the verb acts on, in the order it acts.
    public let order: [Int]
    public let edges: [Edge]
    /// Dependency cycles among the guests the verb acts on, each as a closed path (`[101, 102, 101]`).
    public let cycles: [[Int]]

    /// Builds the graph for `verb`. With `targets`, only those guests and what they need (for `stop`:
    /// what needs them) are acted on.
    public init(estate: Estate, verb: GraphVerb, targets: [Int]? = nil) {
        self.verb = verb
        // Guests by id, as positions in the estate (a dictionary of `Guest` values copies every guest).
        let positions = Dictionary(estate.guests.indices.map { (estate.guests[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
        let guests = GuestLookup(guests: estate.guests, positions: positions)
        var edges: [Edge] = []
        for guest in estate.guests {
            if let source = guest.cloneFrom {
                edges.append(Self.cloneEdge(from: guest, to: source, guests: guests, verb: verb))
            }
            for dependency in guest.dependencies {
                edges.append(Self.dependencyEdge(from: guest, dependency, guests: guests, verb: verb, document: estate.hypervisorDocument))
            }
        }
        self.edges = edges.sorted { ($0.from, $0.to, $0.kind.rawValue) < ($1.from, $1.to, $1.kind.rawValue) }

        let acted = estate.guests.compactMap { $0.enabled && (verb == .create || !$0.isTemplate) ? $0.id : nil }
        var actedSet = Set(acted)
        var needs: [Int: [Int]] = [:]
        var neededBy: [Int: [Int]] = [:]
        for edge in self.edges where edge.active && edge.from != edge.to {
            needs[edge.from, default: []].append(edge.to)
            neededBy[edge.to, default: []].append(edge.from)
        }
        if let targets {
            let walk = verb == .stop ? neededBy : needs
            var selected = Set<Int>()
            var stack = targets.filter { actedSet.contains($0) }
            while let next = stack.popLast() {
                guard selected.insert(next).inserted else { continue }
                stack += (walk[next] ?? []).filter { actedSet.contains($0) && !selected.contains($0) }
            }
            actedSet = selected
        }
        let (startOrder, cycles) = Self.topologicalOrder(
            nodes: acted.filter { actedSet.contains($0) }, needs: needs, priority: { guests.bootOrder(of: $0) ?? Int.max })
        self.order = verb == .stop ? startOrder.reversed() : startOrder
        self.cycles = cycles
    }

    private static func cloneEdge(from guest: Guest, to source: Int, guests: GuestLookup, verb: GraphVerb) -> Edge {
        let active: Bool
        let reason: String
        if guests[source] == nil {
            active = false
            reason = "clone source \(source) is not defined"
        } else if verb == .create {
            active = true
            reason = "cloned from \(source): created after it"
        } else {
            active = false
            reason = "clone edges matter for create only: \(verb.rawValue) does not touch the clone source"
        }
        return Edge(from: guest.id, to: source, kind: .clone, active: active, reason: reason)
    }

    private static func dependencyEdge(
        from guest: Guest, _ dependency: Dependency, guests: GuestLookup, verb: GraphVerb, document: JSONValue
    ) -> Edge {
        func edge(_ active: Bool, _ reason: String) -> Edge {
            Edge(from: guest.id, to: dependency.target, kind: .dependency, active: active, reason: reason)
        }
        let target = guests[dependency.target]
        if target == nil {
            return edge(false, dependency.optional ? "optional: \(dependency.target) is not defined" : "\(dependency.target) is not defined")
        }
        if let target, !target.enabled {
            return edge(false, dependency.optional ? "optional: \(dependency.target) is disabled" : "\(dependency.target) is disabled")
        }
        if let condition = dependency.condition {
            if let verbs = condition.verbs, !verbs.contains(verb) {
                let listed = verbs.map(\.rawValue).sorted().joined(separator: ", ")
                return edge(false, "when.verbs [\(listed)] does not include \(verb.rawValue)")
            }
            if let setting = condition.setting {
                let actual = document.resolve(setting)
                if actual != condition.equals {
                    let shown = actual.map(Self.render) ?? "not set"
                    return edge(false, "when.setting \(setting) is \(shown), not \(Self.render(condition.equals))")
                }
                return edge(true, "when.setting \(setting) is \(Self.render(condition.equals))")
            }
            return edge(true, "when.verbs includes \(verb.rawValue)")
        }
        return edge(true, dependency.optional ? "optional: \(dependency.target) is defined" : "dependencies")
    }

    private struct GuestLookup {
        let guests: [Guest]
        let positions: [Int: Int]
        subscript(id: Int) -> Guest? { positions[id].map { guests[$0] } }
        func bootOrder(of id: Int) -> Int? { positions[id].flatMap { guests[$0].bootOrder } }
    }

    static func render(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case let .bool(flag): return String(flag)
        case let .number(number): return number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case let .string(text): return "\"\(text)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Kahn's algorithm with a heap of ready nodes ordered by (priority, id). Nodes left over sit on or
    /// behind a cycle; the cycles are returned as closed paths.
    static func topologicalOrder(nodes: [Int], needs: [Int: [Int]], priority: (Int) -> Int) -> ([Int], [[Int]]) {
        // Positions instead of ids: arrays, not dictionaries, on the hot path.
        let position = Dictionary(nodes.indices.map { (nodes[$0], $0) }, uniquingKeysWith: { first, _ in first })
        var pending = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (index, node) in nodes.enumerated() {
            guard let required = needs[node] else { continue }
            let positions = Set(required.compactMap { position[$0] })
            pending[index] = positions.count
            for dependency in positions { dependents[dependency].append(index) }
        }
        var ready = Heap<(Int, Int, Int)>(by: { ($0.0, $0.1) < ($1.0, $1.1) })
        for (index, node) in nodes.enumerated() where pending[index] == 0 { ready.push((priority(node), node, index)) }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let (_, node, index) = ready.pop() {
            order.append(node)
            for dependent in dependents[index] {
                pending[dependent] -= 1
                if pending[dependent] == 0 { ready.push((priority(nodes[dependent]), nodes[dependent], dependent)) }
            }
        }
        guard order.count < nodes.count else { return (order, []) }
        let stuck = Set(nodes).subtracting(order)
        return (order, findCycles(in: stuck, needs: needs))
    }

    /// One closed path per strongly connected component that has a cycle (iterative Tarjan).
    static func findCycles(in nodes: Set<Int>, needs: [Int: [Int]]) -> [[Int]] {
        var index = 0
        var indices: [Int: Int] = [:]
        var lowlink: [Int: Int] = [:]
        var onStack = Set<Int>()
        var stack: [Int] = []
        var components: [[Int]] = []
        func successors(_ node: Int) -> [Int] { (needs[node] ?? []).filter { nodes.contains($0) }.sorted() }

        for root in nodes.sorted() where indices[root] == nil {
            var work: [(node: Int, next: Int)] = [(root, 0)]
            indices[root] = index
            lowlink[root] = index
            index += 1
            stack.append(root)
            onStack.insert(root)
            while var frame = work.popLast() {
                let next = successors(frame.node)
                if frame.next < next.count {
                    let successor = next[frame.next]
                    frame.next += 1
                    work.append(frame)
                    if indices[successor] == nil {
                        indices[successor] = index
                        lowlink[successor] = index
                        index += 1
                        stack.append(successor)
                        onStack.insert(successor)
                        work.append((successor, 0))
                    } else if onStack.contains(successor) {
                        lowlink[frame.node] = min(lowlink[frame.node]!, indices[successor]!)
                    }
                    continue
                }
                if let parent = work.last {
                    lowlink[parent.node] = min(lowlink[parent.node]!, lowlink[frame.node]!)
                }
                if lowlink[frame.node] == indices[frame.node] {
                    var component: [Int] = []
                    while let member = stack.popLast() {
                        onStack.remove(member)
                        component.append(member)
                        if member == frame.node { break }
                    }
                    let selfLoop = component.count == 1 && successors(component[0]).contains(component[0])
                    if component.count > 1 || selfLoop { components.append(component) }
                }
            }
        }
        return components.map { component in
            shortestCycle(through: component.min()!, within: Set(component), successors: successors)
        }.sorted { $0.lexicographicallyPrecedes($1) }
    }
}

extension GuestGraph {
    /// The shortest closed path from `start` back to itself inside one strongly connected component.
    static func shortestCycle(through start: Int, within members: Set<Int>, successors: (Int) -> [Int]) -> [Int] {
        var parent: [Int: Int] = [:]
        var queue = [start]
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for next in successors(node) where members.contains(next) {
                if next == start {
                    var path = [start]
                    var cursor = node
                    while cursor != start {
                        path.append(cursor)
                        cursor = parent[cursor]!
                    }
                    path.append(start)
                    // path is start, node, ..., start walked backwards: reverse the inner part.
                    return [start] + path.dropFirst().dropLast().reversed() + [start]
                }
                if parent[next] == nil && next != start {
                    parent[next] = node
                    queue.append(next)
                }
            }
        }
        return [start, start]
    }
}

/// A binary min-heap.
struct Heap<Element> {
    private var items: [Element] = []
    private let less: (Element, Element) -> Bool

    init(by less: @escaping (Element, Element) -> Bool) { self.less = less }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, less(items[left], items[smallest]) { smallest = left }
            if right < items.count, less(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
