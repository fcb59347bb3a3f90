import Foundation
import PhoenixCore
import PhoenixServices

/// `/`: is the estate as git says? Each stage's state with its counts, the last run, the plans
/// waiting for approval, the agent's own health, the certificates that expire first, the stacks
/// that are not converged and the guests that are not running. Its size does not grow with the estate: counts and at most a few
/// items of each list, each linking to its page.
enum OverviewPage {
    struct Model: Sendable {
        var estate: String
        var status: EstateStatus?
        var lastRun: RunRecord?
        var waiting: [RunRecord]
        var health: Agent.Health
        var lastWebhook: Date?
        var queue: (running: Int64?, pending: Int64?)
        var runningCommit: String?
        var readings: EstateReadings
    }

    /// How many items of a list the overview shows before "and N more".
    static let shown = 5

    static func render(_ model: Model, viewer: Viewer) -> HTML {
        """
        \(stages(model.status))
        <h2>The last run</h2>
        \(lastRun(model.lastRun))
        \(waiting(model.waiting, viewer: viewer))
        <h2>The agent</h2>
        \(agent(model, viewer: viewer))
        <h2>Certificates that expire first</h2>
        \(certificates(model.readings.certificates))
        <h2>Stacks not converged</h2>
        \(stacks(model.readings.stacks, drift: model.status))
        <h2>Guests not running</h2>
        \(guests(model.readings))
        """
    }

    static func stages(_ status: EstateStatus?) -> HTML {
        guard let status else {
            return "<p class=\"muted\">No drift check has run yet: the stages show once the agent has checked the applied commit.</p>"
        }
        let cards = status.stages.map { stage -> HTML in
            let state = stage.state.rawValue
            var facts: [HTML] = ["<p>\(stage.resources) resource\(stage.resources == 1 ? "" : "s")</p>"]
            if !stage.drifted.isEmpty { facts.append("<p>\(stage.drifted.count) drifted</p>") }
            if !stage.failed.isEmpty { facts.append("<p>\(stage.failed.count) failed: \(stage.failed.prefix(2).joined(separator: "; "))</p>") }
            if let reason = stage.notApplied { facts.append("<p>\(reason)</p>") }
            for reason in stage.notChecked { facts.append("<p>Not checked for drift: \(reason)</p>") }
            let link = stage.drifted.isEmpty ? "/runs?stage=\(stage.stage.rawValue)" : "/drift#\(stage.stage.rawValue)"
            return """
                <li class="card" data-stage="\(stage.stage.rawValue)" data-state="\(state)">\
                <h3><a href="\(link)">\(stage.stage.rawValue)</a> \(Layout.badge(state))</h3>\(facts)</li>
                """
        }
        let counts = EstateStatus.State.allCases.compactMap { state -> String? in
            let count = status.stages.filter { $0.state == state }.count
            return count == 0 ? nil : "\(count) \(state.rawValue)"
        }
        return """
            <p>The applied commit \(Layout.commit(status.commit)), checked \(Layout.time(status.checked)): \(counts.joined(separator: ", ")).</p>
            <ul class="cards">\(cards)</ul>
            """
    }

    static func lastRun(_ run: RunRecord?) -> HTML {
        guard let run else { return "<p class=\"muted\">No run yet.</p>" }
        return """
            <p data-run="\(run.id)"><a href="/runs/\(run.id)">Run \(run.id)</a> \(Layout.badge(run.outcome)) at \(Layout.commit(run.commit)), \
            \(Layout.trigger(run.trigger)), started \(Layout.time(run.startedAt)). \(run.summary)</p>
            """
    }

    static func waiting(_ runs: [RunRecord], viewer: Viewer) -> HTML {
        guard !runs.isEmpty else { return .empty }
        let items = runs.prefix(shown).map { run -> HTML in
            "<li data-run=\"\(run.id)\"><a href=\"/runs/\(run.id)\">Run \(run.id)</a> at \(Layout.commit(run.commit)): \(run.summary)</li>"
        }
        return """
            <h2>Waiting for approval</h2>
            <ul>\(items)</ul>
            """
    }

    static func agent(_ model: OverviewPage.Model, viewer: Viewer) -> HTML {
        let health = Layout.badge(model.health.healthy ? "healthy" : "unhealthy")
        var lines: [HTML] = [
            "<li data-role=\"\(model.health.role.name)\">Role: \(Layout.badge(model.health.role.name))</li>",
            "<li>Watching: \(health) \(model.health.reason)</li>",
            "<li>Last successful poll: \(Layout.time(model.health.lastSuccessfulPoll))</li>",
            "<li>Last webhook: \(Layout.time(model.lastWebhook))</li>",
        ]
        if let running = model.queue.running {
            lines.append("<li>Running: <a href=\"/runs/\(running)\">run \(running)</a> at \(Layout.commit(model.runningCommit))</li>")
        }
        if let pending = model.queue.pending { lines.append("<li>Pending: <a href=\"/runs/\(pending)\">run \(pending)</a> (the newest commit)</li>") }
        let sync: HTML? =
            viewer.canOperate
            ? "<form method=\"post\" action=\"/sync\">\(Layout.csrfField(viewer.csrf ?? ""))<button type=\"submit\">Sync now</button></form>" : nil
        return "<ul>\(lines)</ul>\(sync)"
    }

    static func certificates(_ reading: EstateReadings.Reading<CertsStatus>?) -> HTML {
        guard let reading else { return "<p class=\"muted\">No certificate read yet (or none in the stages the agent converges).</p>" }
        guard let status = reading.status else { return "<p class=\"error\">The certificates could not be read: \(reading.failure ?? "")</p>" }
        let sorted = status.certificates.sorted { ($0.facts?.notAfter ?? .distantPast) < ($1.facts?.notAfter ?? .distantPast) }
        let rows = sorted.prefix(shown).map { certificate -> HTML in
            "<li data-certificate=\"\(certificate.name)\">\(certificate.name): \(Layout.badge(certificate.state)) \(Layout.time(certificate.facts?.notAfter))</li>"
        }
        return "<ul>\(rows)</ul><p><a href=\"/certificates\">All \(sorted.count) certificates</a></p>"
    }

    /// The stacks the Swarm does not run as configured, and those the drift check found changed.
    static func stacks(_ reading: EstateReadings.Reading<StacksStatus>?, drift status: EstateStatus?) -> HTML {
        if let failure = reading?.failure { return "<p class=\"error\">The stacks could not be read: \(failure)</p>" }
        var items = (reading.map { EstateReadings(stacks: $0).stacksNotConverged } ?? []).map { stack -> HTML in
            let services = stack.services.filter { !$0.converged }.map { "\($0.name) \($0.running)/\($0.desired)" }
            return
                "<li data-stack=\"\(stack.namespace)\">\(stack.namespace): \(stack.health)\(services.isEmpty ? "" : " (\(services.joined(separator: ", ")))")</li>"
        }
        let drifted = (status?.findings ?? []).filter { $0.kind == "stack" }
        items += drifted.map { "<li>\($0.id): \($0.state.rawValue)\($0.detail.isEmpty ? "" : ", \($0.detail)")</li>" as HTML }
        guard !items.isEmpty else {
            // Never "as configured" without a reading: the drift check alone does not see replicas.
            guard reading != nil else { return "<p class=\"muted\">Not read yet (or the agent does not converge the stacks stage).</p>" }
            return "<p>Every stack runs as configured.</p>"
        }
        let more: HTML? = items.count > shown ? "<p><a href=\"/stacks\">and \(items.count - shown) more</a></p>" : nil
        return "<ul>\(Array(items.prefix(shown)))</ul>\(more)"
    }

    static func guests(_ readings: EstateReadings) -> HTML {
        guard let reading = readings.guests else { return "<p class=\"muted\">Not read yet (or the agent does not converge the guests).</p>" }
        if let failure = reading.failure { return "<p class=\"error\">The guests could not be read: \(failure)</p>" }
        let stopped = readings.guestsNotRunning
        guard !stopped.isEmpty else { return "<p>Every enabled guest is running.</p>" }
        let items = stopped.prefix(shown).map { row -> HTML in
            "<li data-guest=\"\(row.id)\">\(row.id) \(row.name): \(row.status)\(row.node == "-" ? "" : " on \(row.node)")</li>"
        }
        let more: HTML? = stopped.count > shown ? "<p><a href=\"/guests\">and \(stopped.count - shown) more</a></p>" : nil
        return "<ul>\(items)</ul>\(more)"
    }
}
