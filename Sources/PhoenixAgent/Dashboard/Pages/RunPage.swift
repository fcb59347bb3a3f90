import PhoenixCore

/// `/runs/{id}`: why the run ran (trigger and commit) first, then its plan, then every resource
/// with its outcome, reasons and time; the approval buttons while its plan waits for a person.
enum RunPage {
    static func render(_ run: RunRecord, details: RunDetails?, viewer: Viewer) -> HTML {
        """
        <dl class="card">
        <dt>Outcome</dt><dd data-run="\(run.id)" data-outcome="\(run.outcome)">\(Layout.badge(run.outcome)) \(run.summary)</dd>
        <dt>Trigger</dt><dd>\(Layout.trigger(run.trigger))</dd>
        <dt>Commit</dt><dd>\(Layout.commit(run.commit))\(details?.subject.map { " — " + $0 } ?? "")\
        \(run.previousCommit.map { HTML(" (after \(Layout.commit($0)))") })</dd>
        <dt>Started</dt><dd>\(Layout.time(run.startedAt)) by \(run.user)@\(run.host)</dd>
        <dt>Finished</dt><dd>\(Layout.time(run.finishedAt))</dd>
        </dl>
        \(actions(run, viewer: viewer))
        \(diagnostics(details?.diagnostics ?? []))
        <h2>The plan</h2>
        \(plan(details?.plan))
        <h2>Resources</h2>
        \(run.finishedAt == nil ? live(run) : HTML("\(resources(details?.resources ?? []))\(log(details?.log ?? []))"))
        """
    }

    /// The run's progress lines, as `sync` prints them.
    static func log(_ lines: [String]) -> HTML {
        guard !lines.isEmpty else { return .empty }
        return "<h2>Log</h2><ol class=\"log\">\(lines.map { "<li><code>\($0)</code></li>" as HTML })</ol>"
    }

    /// A run still going: its resources as they settle (the script fills the table from the run's
    /// events; without it, a reload shows where the run is).
    static func live(_ run: RunRecord) -> HTML {
        """
        <section data-live-run="\(run.id)">
        <p role="status" aria-live="polite">The run is \(run.outcome == "queued" ? "waiting to start" : "going"): each resource shows as it settles.</p>
        <div class="table"><table>
        <thead><tr><th scope="col">Resource</th><th scope="col">Kind</th><th scope="col">Outcome</th><th scope="col">Reasons</th></tr></thead>
        <tbody></tbody></table></div>
        <h2>Log</h2><ol class="log" data-live-log></ol>
        </section>
        <script src="/assets/live.js" defer></script>
        """
    }

    static func actions(_ run: RunRecord, viewer: Viewer) -> HTML {
        guard run.outcome == RunOutcome.waitingForApproval.rawValue else { return .empty }
        guard viewer.canOperate, let csrf = viewer.csrf else {
            return "<p class=\"muted\">This plan waits for a person with the operate role.</p>"
        }
        return """
            <p>This plan waits for approval. Approving applies exactly this plan, or plans again if something changed since.</p>
            <form class="inline" method="post" action="/runs/\(run.id)/approve">\(Layout.csrfField(csrf))\
            <button type="submit" class="primary">Approve</button></form>
            <form class="inline" method="post" action="/runs/\(run.id)/discard">\(Layout.csrfField(csrf))\
            <button type="submit">Discard</button></form>
            """
    }

    static func diagnostics(_ diagnostics: [String]) -> HTML {
        guard !diagnostics.isEmpty else { return .empty }
        return "<h2>Why the commit is invalid</h2><ul>\(diagnostics.map { "<li><code>\($0)</code></li>" as HTML })</ul>"
    }

    /// The plan as `plan --format json` records it: each kind's member, its entries by what they
    /// name, with their action and reasons.
    static func plan(_ plan: JSONValue?) -> HTML {
        guard let plan, case let .object(members) = plan else { return "<p class=\"muted\">No plan was recorded.</p>" }
        var sections: [HTML] = []
        for (name, value) in members where !["version", "succeeded"].contains(name) {
            let entries = value.arrayItems
            guard !entries.isEmpty else { continue }
            let items = entries.prefix(1000).map { entry -> HTML in
                let label = ["id", "resource", "name", "path", "stack", "stage"].lazy.compactMap { entry[$0]?.stringValue }.first ?? ""
                let action = entry["action"]?.stringValue ?? entry["state"]?.stringValue ?? ""
                let details = (entry["reasons"] ?? entry["changes"])?.arrayItems.compactMap(\.stringValue) ?? []
                let reason = entry["reason"]?.stringValue
                return
                    "<li><code>\(label)</code> \(action)\(details.isEmpty ? "" : ": " + details.joined(separator: "; "))\(reason.map { ": " + $0 } ?? "")</li>"
            }
            sections.append("<h3>\(name)</h3><ul>\(items)</ul>")
        }
        return sections.isEmpty ? "<p>The plan held no changes.</p>" : HTML.join(sections)
    }

    static func resources(_ resources: [RunDetails.Resource]) -> HTML {
        guard !resources.isEmpty else { return "<p class=\"muted\">No resource was recorded for this run.</p>" }
        let rows = resources.map { resource -> HTML in
            let seconds = (resource.seconds * 100).rounded() / 100
            // A unit's resources share its reasons, each named by its resource: a row shows its own.
            let own = resource.reasons.filter { $0.hasPrefix(resource.id + ": ") }.map { String($0.dropFirst(resource.id.count + 2)) }
            let reasons = own.isEmpty ? resource.reasons : own
            return """
                <tr data-resource="\(resource.id)" data-outcome="\(resource.outcome)"><td><code>\(resource.id)</code></td><td>\(resource.kind)</td>\
                <td>\(Layout.badge(resource.outcome))</td><td>\(reasons.joined(separator: "; "))</td><td>\(String(seconds)) s</td><td>\(resource.calls)</td></tr>
                """
        }
        return """
            <div class="table"><table>
            <thead><tr><th scope="col">Resource</th><th scope="col">Kind</th><th scope="col">Outcome</th><th scope="col">Reasons</th>\
            <th scope="col">Time</th><th scope="col">Calls</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }
}
