import PhoenixCore

/// `/drift`: what the last drift check found, by stage: each resource, which side moved (by hand,
/// in the configuration) and what differs; the next sync repairs each one.
enum DriftPage {
    static func render(_ status: EstateStatus?, selfHeal: Bool) -> HTML {
        guard let status else { return "<p class=\"muted\">No drift check has run yet.</p>" }
        var sections: [HTML] = [
            """
            <p>Checked \(Layout.time(status.checked)) against the applied commit \(Layout.commit(status.commit)). \
            A drift check changes nothing; \(selfHeal ? "the stages in phoenix.agent.self_heal are repaired by a run with trigger drift" : "the next sync repairs what it lists").</p>
            """
        ]
        for stage in status.stages where !stage.drifted.isEmpty || !stage.failed.isEmpty {
            let findings = status.findings.filter { status.stageOf[$0.id] == stage.stage }
            let rows = findings.map { finding -> HTML in
                """
                <tr data-resource="\(finding.id)" data-drift="\(finding.state.rawValue)"><td><code>\(finding.id)</code></td><td>\(finding.kind)</td>\
                <td>\(finding.state.rawValue)</td><td>\(finding.detail)</td></tr>
                """
            }
            let failed = stage.failed.map { "<li class=\"failed\">\($0)</li>" as HTML }
            sections.append(
                """
                <h2 id="\(stage.stage.rawValue)">\(stage.stage.rawValue) \(Layout.badge(stage.state.rawValue))</h2>
                \(failed.isEmpty ? HTML.empty : "<ul>\(failed)</ul>")
                \(rows.isEmpty ? HTML.empty : """
                <div class="table"><table><thead><tr><th scope="col">Resource</th><th scope="col">Kind</th><th scope="col">Drift</th>\
                <th scope="col">What differs</th></tr></thead><tbody>\(rows)</tbody></table></div>
                """)
                """)
        }
        if sections.count == 1 { sections.append("<p>Nothing drifted: every stage is as the applied commit declares.</p>") }
        return HTML.join(sections, separator: "\n")
    }
}
