import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine

extension StackDeployments {
    /// Deploys what changed, waits for each stack to converge, rolls a stack that does not back
    /// as a whole, removes what is no longer configured (with `prune`). Each stack is journalled
    /// and settled; `afterDeploys` runs once all are done (the Swarm prunes old secret versions).
    public func apply(_ hooks: SwarmConvergence.RunHooks, afterDeploys: @Sendable () async -> [String] = { [] }) async -> Report {
        guard desired.manager != nil else { return Report() }
        let digests = hooks.store.digests
        let observation: Observation
        let records: [String: StackRecord]
        do {
            // The Swarm may be made in this very run: what the stacks need of it is waited for first.
            if let manager = desired.manager, let blocked = await hooks.waitFor(manager.resourceID) {
                var report = Report()
                for stack in desired.stacks where stack.stage == stage {
                    var item = Item(id: stack.resourceID, namespace: stack.namespace, action: .none, reasons: [])
                    item.failure = "not attempted: \(manager.resourceID) did not converge (\(blocked))"
                    item.outcome = .blocked
                    await hooks.settle(item.id, item.failure)
                    report.items.append(item)
                }
                return report
            }
            // The versioned names of certificate-fed secrets follow what the certs stage installs.
            for id in secrets.feedingCertificates { _ = await hooks.waitFor(id) }
            observation = try await observe()
            records = try hooks.store.stackRecords()
        } catch {
            return Report(error: "\(error)", calls: await connections.calls())
        }
        let planned = items(observation, records: records, digests: digests)
        let limit = max(1, parallelism)
        let done: [Item] = await withTaskGroup(of: (Int, Item).self) { group in
            var results: [(Int, Item)] = []
            for (index, item) in planned.enumerated() {
                if index >= limit, let result = await group.next() { results.append(result) }
                group.addTask { (index, await perform(item, observation: observation, record: records[item.id], hooks: hooks)) }
            }
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var report = Report(items: done)
        report.deploys = done.reduce(0) { $0 + $1.deploys }
        if done.contains(where: { $0.outcome == .deployed || $0.outcome == .rolledBack }) { report.prunedSecrets = await afterDeploys() }
        report.calls = await connections.calls()
        return report
    }

    func perform(_ planned: Item, observation: Observation, record: StackRecord?, hooks: SwarmConvergence.RunHooks) async -> Item {
        var item = planned
        let started = Date()
        if item.failure == nil, let blocked = await hooks.needs(item.id) {
            item.failure = blocked
            item.outcome = .blocked
        }
        if let failure = item.failure {
            await hooks.settle(item.id, failure)
            return item
        }
        switch item.action {
        case .none:
            await hooks.settle(item.id, nil)
            return item
        case .remove:
            await remove(&item, hooks: hooks)
        case .deploy:
            await deploy(&item, record: record, hooks: hooks)
        }
        item.seconds = Date().timeIntervalSince(started)
        await hooks.settle(item.id, item.failure)
        return item
    }

    func deploy(_ item: inout Item, record: StackRecord?, hooks: SwarmConvergence.RunHooks) async {
        guard let compose = item.compose, let hash = item.specHash, let parsed = try? StackCompose(compose) else {
            item.failure = "no compose file to deploy"
            item.outcome = .failed
            return
        }
        do {
            try hooks.store.journal(
                run: hooks.run, resource: item.id, phase: .intent, previousDigest: record?.specHash, newDigest: hash,
                detail: item.reasons.joined(separator: "; "))
            try failpoints.hit(item.id, .before)
            let client = try await managerClient()
            let before = Set(
                try await client.tasks(services: try await client.services(label: "com.docker.stack.namespace=\(item.namespace)").map(\.id)).map(\.id))
            item.deploys += 1
            let result = await deployer.deploy(namespace: item.namespace, compose: compose, prune: prune)
            guard result.status == 0 else {
                // The CLI checks the file before it creates anything: nothing of this stack changed.
                item.failure =
                    "docker stack deploy refused \(item.namespace): \(TextRules.printable(Self.cliMessage(result), limit: 800))"
                item.outcome = .failed
                try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: item.failure!)
                return
            }
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .applied)
            try failpoints.hit(item.id, .after)
            switch await converge(namespace: item.namespace, services: parsed.services, known: before) {
            case let .converged(services):
                try await remember(item, compose: compose, hash: hash, services: services, hooks: hooks)
                try hooks.store.journal(run: hooks.run, resource: item.id, phase: .verified)
                item.outcome = .deployed
            case let .failed(reason, errors):
                item.serviceErrors = errors
                await rollBack(&item, record: record, reason: reason, hooks: hooks)
            }
        } catch {
            item.failure = "\(error)"
            item.outcome = .failed
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: "\(error)")
        }
    }

    /// The whole stack back to the compose of its last good deploy (services this deploy added
    /// are pruned), waited for; reported as a failure whatever the rollback's own outcome.
    func rollBack(_ item: inout Item, record: StackRecord?, reason: String, hooks: SwarmConvergence.RunHooks) async {
        guard let record else {
            item.failure = "\(reason); there is no earlier deploy to roll back to: the stack is left as deployed"
            item.outcome = .failed
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: item.failure!)
            return
        }
        // The failed deploy's tasks are not the rollback's: only tasks made after it count.
        var known = Set<String>()
        if let client = try? await managerClient(), let services = try? await client.services(label: "com.docker.stack.namespace=\(item.namespace)"),
            let tasks = try? await client.tasks(services: services.map(\.id))
        {
            known = Set(tasks.map(\.id))
        }
        item.deploys += 1
        let result = await deployer.deploy(namespace: item.namespace, compose: record.compose, prune: true)
        guard result.status == 0 else {
            item.failure = "\(reason); the rollback to run \(record.run)'s compose was refused too: \(TextRules.printable(Self.cliMessage(result), limit: 600))"
            item.outcome = .failed
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: item.failure!)
            return
        }
        let services = (try? StackCompose(record.compose))?.services ?? []
        switch await converge(namespace: item.namespace, services: services, known: known) {
        case .converged:
            item.failure = "rolled back to the compose of run \(record.run): \(reason)"
            item.outcome = .rolledBack
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .restored, detail: reason)
        case let .failed(again, _):
            item.failure = "\(reason); rolled back to the compose of run \(record.run), which did not converge either: \(again)"
            item.outcome = .failed
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: item.failure!)
        }
    }

    /// Records the deploy with what its services look like now (networks by name, as plan reads them).
    func remember(_ item: Item, compose: String, hash: String, services: [SwarmService], hooks: SwarmConvergence.RunHooks) async throws {
        let networks = try await managerClient().networks()
        let networkNames = Dictionary(networks.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var summaries: [String: String] = [:]
        for service in services {
            let name = service.name.hasPrefix(item.namespace + "_") ? String(service.name.dropFirst(item.namespace.count + 1)) : service.name
            summaries[name] = ServiceSummary(service, networkNames: networkNames, digests: hooks.store.digests).text
        }
        try hooks.store.recordStack(
            StackRecord(id: item.id, namespace: item.namespace, specHash: hash, compose: compose, services: summaries, run: hooks.run))
    }

    /// Removes a stack phoenix deployed that the configuration no longer lists: its services,
    /// then the networks it made (Docker frees a network a moment after its last task).
    func remove(_ item: inout Item, hooks: SwarmConvergence.RunHooks) async {
        do {
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .intent, detail: "remove (--prune)")
            try failpoints.hit(item.id, .before)
            let client = try await managerClient()
            let label = "com.docker.stack.namespace=\(item.namespace)"
            for service in try await client.services(label: label) { try await client.removeService(service.id) }
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .applied)
            for network in try await client.networks() where network.labels["com.docker.stack.namespace"] == item.namespace {
                var attempts = 0
                while true {
                    do throws(DockerError) {
                        try await client.removeNetwork(network.id)
                        break
                    } catch {
                        attempts += 1
                        if attempts >= 20 || error.isNotFound { break }
                        try await Task.sleep(nanoseconds: 500_000_000)
                    }
                }
            }
            try hooks.store.forgetStack(item.id)
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .verified)
            item.outcome = .removed
        } catch {
            item.failure = "\(error)"
            item.outcome = .failed
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: "\(error)")
        }
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
