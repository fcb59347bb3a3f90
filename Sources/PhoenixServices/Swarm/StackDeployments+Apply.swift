import Foundation
import PhoenixCore
import PhoenixEngine

extension StackDeployments {
    /// Records the deploy with what its services look like now (networks by name, as plan reads them).
    func remember(_ item: Item, compose: String, hash: String, services: [SwarmService], store: any StateBackend, run: Int64) async throws {
        let networks = try await managerClient().networks()
        let networkNames = Dictionary(networks.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var summaries: [String: String] = [:]
        for service in services {
            let name = service.name.hasPrefix(item.namespace + "_") ? String(service.name.dropFirst(item.namespace.count + 1)) : service.name
            summaries[name] = ServiceSummary(service, networkNames: networkNames, digests: store.digests).text
        }
        try await store.recordStack(StackRecord(id: item.id, namespace: item.namespace, specHash: hash, compose: compose, services: summaries, run: run))
    }

    /// What the CLI said, without the notice it prints on every deploy about `--detach`.
    static func cliMessage(_ result: CommandResult) -> String {
        let text = result.stderr.isEmpty ? result.stdout : result.stderr
        return text.split(separator: "\n").filter { line in
            !line.hasPrefix("Since --detach=false was not specified") && !line.hasPrefix("In a future release, --detach=false")
        }.joined(separator: "\n")
    }

    /// The task was made from this template: every part the task carries is the template's (a task
    /// leaves out some defaults the service shows, such as `Runtime`).
    static func made(from template: JSONValue, _ task: JSONValue) -> Bool {
        let writer = JSONWriter(sortedKeys: true, pretty: false)
        let parts = task.objectMembers
        return !parts.isEmpty && parts.allSatisfy { part in template[part.key].map { writer.string($0) == writer.string(part.value) } ?? false }
    }

    enum Convergence {
        case converged([SwarmService])
        case failed(String, [String])
    }

    /// Polls the stack's services and tasks (two calls a round) until every service has finished
    /// its update and runs its desired replicas from its current spec (a task with a health check
    /// runs only once healthy); stops early when Docker paused or rolled an update back, or a
    /// service's new tasks keep failing.
    func converge(namespace: String, services expected: [String], known: Set<String>) async -> Convergence {
        let deadline = Date().addingTimeInterval(timeout)
        var status: [String] = []
        var errors: [String: [String]] = [:]
        while true {
            do {
                let client = try await managerClient()
                let services = try await client.services(label: "com.docker.stack.namespace=\(namespace)")
                let tasks = try await client.tasks(services: services.map(\.id))
                status = []
                errors = [:]
                var pending = false
                for name in expected {
                    let full = "\(namespace)_\(name)"
                    guard let service = services.first(where: { $0.name == full }) else {
                        status.append("\(full): not created")
                        pending = true
                        continue
                    }
                    let template = service.spec["TaskTemplate"] ?? .null
                    let own = tasks.filter { $0.serviceID == service.id }
                    let failed = own.filter { !known.contains($0.id) && ["failed", "rejected"].contains($0.state) }
                    errors[full] = failed.suffix(3).map { task in
                        let exit = task.exitCode.map { " (exit code \($0))" } ?? ""
                        return "\(full): task \(task.state): \(task.error ?? task.message)\(exit)"
                    }
                    if let state = service.updateState, ["paused", "rollback_started", "rollback_paused", "rollback_completed"].contains(state) {
                        return .failed("\(full): Docker's update ended \(state): \(service.updateMessage ?? "")", errors[full] ?? [])
                    }
                    if failed.count >= failedTaskLimit {
                        return .failed(
                            "\(full) does not converge: \(failed.count) of its new tasks failed", Array(errors.values.joined()).sorted())
                    }
                    let current = own.filter { $0.desiredState == "running" }
                    let running = current.filter { $0.state == "running" && Self.made(from: template, $0.spec) }
                    let want = service.replicas ?? max(1, current.count)
                    let updating = service.updateState == "updating"
                    if updating || running.count != want || current.count != want {
                        // What the tasks that should run are doing instead (a health check that never passes keeps one `starting`).
                        var others = Dictionary(grouping: current.filter { $0.state != "running" }, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted()
                        let earlier = current.filter { $0.state == "running" }.count - running.count
                        if earlier > 0 { others.append("\(earlier) running the previous spec") }
                        let detail = (others + (updating ? ["updating"] : [])).joined(separator: ", ")
                        status.append("\(full): \(running.count)/\(want) running" + (detail.isEmpty ? "" : " (\(detail))"))
                        pending = true
                    }
                }
                if !pending { return .converged(services) }
            } catch {
                status = ["\(error)"]
            }
            if Date() >= deadline {
                return .failed(
                    "did not converge within \(Int(timeout)) s: \(status.joined(separator: "; "))", Array(errors.values.joined()).sorted())
            }
            try? await Task.sleep(nanoseconds: UInt64(pollInterval * 1_000_000_000))
        }
    }
}
