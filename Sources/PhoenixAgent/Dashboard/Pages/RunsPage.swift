import PhoenixCore
import PhoenixServices

/// `/runs`: the recorded runs, newest first, 50 a page on the server, filtered by outcome,
/// trigger and stage.
enum RunsPage {
    struct Model: Sendable {
        var runs: [RunRecord]
        var filter: RunFilter
        /// The id to continue before, when there are older runs.
        var next: Int64?
    }

    static func render(_ model: Model, viewer: Viewer) -> HTML {
        let rows = model.runs.map { run -> HTML in
            """
            <tr data-run="\(run.id)"><td><a href="/runs/\(run.id)">\(run.id)</a></td><td>\(Layout.badge(run.outcome))</td>\
            <td>\(Layout.trigger(run.trigger))</td><td>\(Layout.commit(run.commit))</td><td>\(run.stages.map(\.rawValue).joined(separator: ", "))</td>\
            <td>\(Layout.time(run.startedAt))</td><td>\(run.summary)</td></tr>
            """
        }
        let table: HTML =
            rows.isEmpty
            ? "<p>No run matches.</p>"
            : """
            <div class="table"><table><caption class="muted">Newest first</caption>
            <thead><tr><th scope="col">Run</th><th scope="col">Outcome</th><th scope="col">Trigger</th><th scope="col">Commit</th>\
            <th scope="col">Stages</th><th scope="col">Started</th><th scope="col">Summary</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
        let next: HTML? = model.next.map { id in
            let link = "/runs?" + (model.filter.query + ["before=\(id)"]).joined(separator: "&")
            return "<nav class=\"pager\" aria-label=\"Pages\"><a href=\"\(link)\" rel=\"next\">Older runs</a></nav>"
        }
        return """
            <form class="filters" method="get" action="/runs">
            \(select("outcome", "Outcome", RunOutcome.allCases.map(\.rawValue) + ["queued"], model.filter.outcome))
            \(select("trigger", "Trigger", RunTrigger.Kind.allCases.map(\.rawValue), model.filter.trigger))
            \(select("stage", "Stage", KindRegistry.standard.stages.map(\.rawValue), model.filter.stage?.rawValue))
            <button type="submit">Filter</button></form>
            \(table)
            \(next)
            """
    }

    static func select(_ name: String, _ label: String, _ values: [String], _ chosen: String?) -> HTML {
        let options = ([""] + values).map { value -> HTML in
            let text = value.isEmpty ? "any" : value
            return value == (chosen ?? "")
                ? "<option value=\"\(value)\" selected>\(text)</option>" : "<option value=\"\(value)\">\(text)</option>"
        }
        return "<div><label for=\"\(name)\">\(label)</label><select id=\"\(name)\" name=\"\(name)\">\(options)</select></div>"
    }
}
