import PhoenixCore

/// `/graph`: the resource graph as SVG drawn here, coloured by state. The whole estate as its
/// stages (a stage points at the stages it needs); `/graph?stage=NAME` that stage's resources and
/// what they need, other stages' resources drawn muted. Each drawing has a list beside it, for
/// screen readers and for finding a node by name.
enum GraphPage {
    /// The most resources one drawing holds; the rest are listed as a count (drifted and failed
    /// ones drawn first).
    static let drawn = 300

    struct Node {
        let id: String
        let label: String
        let state: String
        let link: String?
        let needs: [String]
        let muted: Bool
    }

    static func render(_ status: EstateStatus?, stage: SyncStage?) -> HTML {
        guard let status else { return "<p class=\"muted\">No drift check has run yet: the graph shows once the agent has checked the applied commit.</p>" }
        if let stage { return resources(status, stage) }
        var needs: [SyncStage: Set<SyncStage>] = [:]
        for (id, dependencies) in status.dependsOn {
            guard let from = status.stageOf[id] else { continue }
            for dependency in dependencies {
                if let to = status.stageOf[dependency], to != from { needs[from, default: []].insert(to) }
            }
        }
        let nodes = status.stages.map { summary in
            Node(
                id: summary.stage.rawValue, label: "\(summary.stage.rawValue) (\(summary.resources))", state: summary.state.rawValue,
                link: "/graph?stage=\(summary.stage.rawValue)", needs: (needs[summary.stage] ?? []).sorted().map(\.rawValue), muted: false)
        }
        let list = nodes.map { node -> HTML in
            "<li data-stage=\"\(node.id)\" data-state=\"\(node.state)\"><a href=\"\(node.link ?? "")\">\(node.label)</a> \(Layout.badge(node.state))\(node.needs.isEmpty ? "" : ", needs \(node.needs.joined(separator: ", "))")</li>"
        }
        return """
            <p>Each stage points at the stages whose resources it needs converged first. Choose a stage for its resources.</p>
            \(drawing(nodes, title: "The stages of the applied commit \(status.commit.prefix(12)) and what each needs"))
            <h2>The stages</h2><ul>\(list)</ul>
            """
    }

    static func resources(_ status: EstateStatus, _ stage: SyncStage) -> HTML {
        let ids = status.stageOf.filter { $0.value == stage }.map(\.key)
        let rank: [EstateStatus.State: Int] = [.failed: 0, .drifted: 1, .notApplied: 2, .inSync: 3]
        let ordered = ids.sorted { (rank[status.state(of: $0)] ?? 3, $0) < (rank[status.state(of: $1)] ?? 3, $1) }
        let shown = Array(ordered.prefix(drawn))
        let inside = Set(shown)
        var nodes = shown.map { id in
            Node(
                id: id, label: id, state: status.state(of: id).rawValue, link: nil, needs: (status.dependsOn[id] ?? []).sorted(), muted: false)
        }
        let outside = Set(nodes.flatMap(\.needs)).subtracting(inside).sorted()
        nodes += outside.map { id in
            Node(
                id: id, label: id, state: status.state(of: id).rawValue, link: status.stageOf[id].map { "/graph?stage=\($0.rawValue)" }, needs: [],
                muted: true)
        }
        let list = shown.map { id -> HTML in
            let state = status.state(of: id).rawValue
            let needs = (status.dependsOn[id] ?? []).sorted()
            return
                "<li data-resource=\"\(id)\" data-state=\"\(state)\"><code>\(id)</code> \(Layout.badge(state))\(needs.isEmpty ? "" : ", needs \(needs.joined(separator: ", "))")</li>"
        }
        let more: HTML? = ordered.count > shown.count ? "<p>and \(ordered.count - shown.count) more in sync, not drawn.</p>" : nil
        return """
            <p><a href="/graph">All stages</a> · the \(stage.rawValue) stage: \(ids.count) resource\(ids.count == 1 ? "" : "s"); \
            resources of other stages they need are drawn muted.</p>
            \(drawing(nodes, title: "The resources of the \(stage.rawValue) stage and what they need"))
            \(more)
            <h2>Resources</h2><ul>\(list)</ul>
            """
    }

    /// Columns by depth (a node stands right of everything it needs), rows in order; an arrow from
    /// each node to what it needs. A picture (`role="img"`): its links are in the list beside it.
    static func drawing(_ nodes: [Node], title: String) -> HTML {
        guard !nodes.isEmpty else { return "<p class=\"muted\">Nothing to draw.</p>" }
        let known = Set(nodes.map(\.id))
        let needs = Dictionary(nodes.map { ($0.id, $0.needs.filter { known.contains($0) }) }, uniquingKeysWith: { first, _ in first })
        var depth: [String: Int] = [:]
        func depthOf(_ id: String, _ visiting: Set<String>) -> Int {
            if let known = depth[id] { return known }
            guard !visiting.contains(id) else { return 0 }
            let value = (needs[id] ?? []).map { depthOf($0, visiting.union([id])) + 1 }.max() ?? 0
            depth[id] = value
            return value
        }
        for node in nodes { _ = depthOf(node.id, []) }
        let (columnWidth, rowHeight, boxWidth, boxHeight) = (250, 34, 220, 24)
        var rows: [Int: Int] = [:]
        var position: [String: (x: Int, y: Int)] = [:]
        for node in nodes {
            let column = depth[node.id] ?? 0
            let row = rows[column, default: 0]
            rows[column] = row + 1
            position[node.id] = (10 + column * columnWidth, 10 + row * rowHeight)
        }
        let width = 20 + ((rows.keys.max() ?? 0) + 1) * columnWidth
        let height = 20 + (rows.values.max() ?? 1) * rowHeight
        var edges: [HTML] = []
        for node in nodes {
            guard let from = position[node.id] else { continue }
            for dependency in needs[node.id] ?? [] {
                guard let to = position[dependency] else { continue }
                edges.append(
                    "<line x1=\"\(from.x)\" y1=\"\(from.y + boxHeight / 2)\" x2=\"\(to.x + boxWidth)\" y2=\"\(to.y + boxHeight / 2)\" class=\"edge\" marker-end=\"url(#arrow)\"/>"
                )
            }
        }
        let boxes = nodes.map { node -> HTML in
            let point = position[node.id] ?? (0, 0)
            let label = node.label.count > 32 ? String(node.label.prefix(31)) + "…" : node.label
            let box: HTML = """
                <g class="node \(node.state.replacingOccurrences(of: " ", with: "-"))\(node.muted ? " outside" : "")"><title>\(node.id): \(node.state)</title>\
                <rect x="\(point.x)" y="\(point.y)" width="\(boxWidth)" height="\(boxHeight)" rx="4"/>\
                <text x="\(point.x + 8)" y="\(point.y + 16)">\(label)</text></g>
                """
            return box
        }
        return """
            <figure class="graph"><svg role="img" aria-labelledby="graph-title" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)">\
            <title id="graph-title">\(title)</title>\
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">\
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow"/></marker></defs>\
            \(edges)\(boxes)</svg><figcaption class="muted">Colour by state: in sync, drifted, failed, not applied; muted: another stage's.</figcaption></figure>
            """
    }
}
