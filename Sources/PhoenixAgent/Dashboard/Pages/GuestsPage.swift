import PhoenixServices

/// `/guests`: every configured guest beside what the Proxmox API reports (one bulk read at the
/// agent's last drift check or applied run), with what the state store says converge would look at:
/// a reboot pending, a change on the cluster, a configuration changed since it was converged.
enum GuestsPage {
    static func render(_ reading: EstateReadings.Reading<GuestStatus>?, page: String?) -> HTML {
        let notYet: HTML =
            "<p class=\"muted\">Not read yet: the guests show after the agent's first drift check (or it does not converge the guests stage).</p>"
        guard let reading, let status = reading.status else { return Layout.unread(reading, "guests", notYet: notYet) ?? .empty }
        let pager = Pager(status.rows, page: page)
        let rows = pager.items.map { row -> HTML in
            """
            <tr data-guest="\(row.id)" data-status="\(row.status)"><td>\(row.id)</td><td>\(row.name)</td><td>\(row.kind)</td>\
            <td>\(Layout.badge(row.status))</td><td>\(row.node)</td><td>\(row.notes.joined(separator: "; "))</td></tr>
            """
        }
        let running = status.rows.filter { $0.status == "running" }.count
        return """
            <p>Read from the Proxmox API \(Layout.time(reading.at)): \(status.rows.count) guest\(status.rows.count == 1 ? "" : "s"), \(running) running.</p>
            <div class="table"><table><thead><tr><th scope="col">ID</th><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Status</th>\
            <th scope="col">Node</th><th scope="col">Note</th></tr></thead><tbody>\(rows)</tbody></table></div>
            \(pager.navigation("/guests"))
            """
    }
}
