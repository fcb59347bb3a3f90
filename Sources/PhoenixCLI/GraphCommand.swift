import ArgumentParser
import Foundation
import PhoenixCore

/// `phoenix graph`: the guest dependency graph and the order a verb walks it.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Show the guest dependency graph and the order a verb walks it.",
        discussion: """
            Clone edges count for create only; templates are never started; stop walks the start order backwards. \
            Inactive edges (optional targets that are missing or disabled, conditions that do not hold) are shown \
            with the reason they were dropped.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, mermaid, dot }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "text, json, mermaid or dot") var format: Format = .text
    @Option(name: .long, help: "create, start or stop") var verb: GraphVerb = .start
    @Argument(help: "Guest ids to act on (default: all)") var ids: [Int] = []

    func run() throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil {
            throw ValidationError("guest \(id) is not defined in the configuration")
        }
        let graph = GuestGraph(estate: estate, verb: verb, targets: ids.isEmpty ? nil : ids)
        let output: String
        switch format {
        case .json: output = GraphPrinter.json(graph)
        case .mermaid: output = GraphPrinter.mermaid(graph, estate: estate)
        case .dot: output = GraphPrinter.dot(graph, estate: estate)
        case .text: output = GraphPrinter.text(graph, estate: estate)
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

extension GraphVerb: ExpressibleByArgument {}

enum GraphPrinter {
    static func json(_ graph: GuestGraph) -> String {
        JSONOutput.string(
            .object([
                ("version", .number(1)), ("verb", .string(graph.verb.rawValue)), ("order", .array(graph.order.map { .string(String($0)) })),
                (
                    "edges",
                    .array(
                        graph.edges.map { edge in
                            .object([
                                ("from", .string(String(edge.from))), ("to", .string(String(edge.to))), ("kind", .string(edge.kind.rawValue)),
                                ("active", .bool(edge.active)), ("reason", .string(edge.reason)),
                            ])
                        })
                ),
            ]))
    }

    static func text(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "\(graph.verb.rawValue) order (\(graph.order.count) guests):\n"
        for (index, id) in graph.order.enumerated() {
            out += "  \(index + 1). \(id) \(estate.guest(id)?.name ?? "")\n"
        }
        out += "edges (from needs to):\n"
        for edge in graph.edges {
            out += "  \(edge.from) -> \(edge.to) [\(edge.kind.rawValue)] \(edge.active ? "active" : "dropped"): \(edge.reason)\n"
        }
        return out
    }

    static func mermaid(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "graph TD\n"
        for guest in estate.guests {
            out += "  g\(guest.id)[\"\(guest.id) \(guest.name.filter { $0 != "\"" })\(guest.isTemplate ? " (template)" : "")\"]\n"
        }
        for edge in graph.edges where estate.guest(edge.to) != nil {
            let arrow = edge.active ? "-->" : "-.->"
            let label = edge.active ? edge.kind.rawValue : "dropped: \(edge.reason)"
            out += "  g\(edge.from) \(arrow)|\"\(label.filter { $0 != "\"" })\"| g\(edge.to)\n"
        }
        return out
    }

    static func dot(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "digraph phoenix {\n  rankdir=LR;\n"
        for guest in estate.guests {
            out += "  \"\(guest.id)\" [label=\"\(guest.id) \(guest.name.filter { $0 != "\"" && $0 != "\\" })\"\(guest.isTemplate ? ", shape=box" : "")];\n"
        }
        for edge in graph.edges where estate.guest(edge.to) != nil {
            let style = edge.active ? "solid" : "dashed"
            out += "  \"\(edge.from)\" -> \"\(edge.to)\" [label=\"\(edge.kind.rawValue)\", style=\(style), tooltip=\"\(edge.reason.filter { $0 != "\"" })\"];\n"
        }
        return out + "}\n"
    }
}
