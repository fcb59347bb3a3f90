import PhoenixCore
import PhoenixServices

/// `/stacks`: each stack and its services as the Swarm runs them — desired and running replicas,
/// the update state, health — with the run that last deployed it and that run's commit.
enum StacksPage {
    static func render(_ reading: EstateReadings.Reading<StacksStatus>?, page: String?, commitOf: (Int64) -> String?) -> HTML {
        let notYet: HTML =
            "<p class=\"muted\">Not read yet: the stacks show after the agent's first drift check (or it does not converge the stacks stage).</p>"
        guard let reading, let status = reading.status else { return Layout.unread(reading, "stacks", notYet: notYet) ?? .empty }
        let pager = Pager(status.stacks, page: page)
        let sections = pager.items.map { stack -> HTML in
            let deploy: HTML
            if let run = stack.lastDeployRun {
                deploy = "deployed by <a href=\"/runs/\(run)\">run \(run)</a> at \(Layout.commit(commitOf(run)))"
            } else {
                deploy = "never deployed by phoenix"
            }
            let services = stack.services.map { service -> HTML in
                """
                <tr data-service="\(service.name)"><td><code>\(service.name)</code></td><td><code>\(service.image)</code></td>\
                <td>\(service.running)/\(service.desired)</td><td>\(service.updateState ?? "—")</td>\
                <td>\(Layout.badge(service.converged ? "converged" : "not converged"))</td></tr>
                """
            }
            let table: HTML =
                services.isEmpty
                ? "<p class=\"muted\">No service of this stack runs on the Swarm.</p>"
                : """
                <div class="table"><table><thead><tr><th scope="col">Service</th><th scope="col">Image</th><th scope="col">Running/desired</th>\
                <th scope="col">Update</th><th scope="col">Health</th></tr></thead><tbody>\(services)</tbody></table></div>
                """
            return """
                <section data-stack="\(stack.namespace)" data-health="\(stack.health)"><h2>\(stack.namespace) \(Layout.badge(stack.health))</h2>
                <p><code>\(stack.resource)</code>, \(deploy)\(stack.configured ? "" : ", no longer configured").</p>
                \(table)</section>
                """
        }
        let converged = status.stacks.filter { $0.health == "converged" }.count
        return """
            <p>Read from the Swarm's manager \(Layout.time(reading.at)): \(status.stacks.count) stack\(status.stacks.count == 1 ? "" : "s"), \
            \(converged) converged.</p>
            \(sections)
            \(pager.navigation("/stacks"))
            """
    }
}
