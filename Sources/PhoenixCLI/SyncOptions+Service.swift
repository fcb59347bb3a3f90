import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

extension SyncOptions {
    /// Runs `body` with the sync service for `stages`: the guests stage when the API is named, the
    /// firewall's rule sets through the API when asked, the engine for the files. The API client
    /// is shut down however `body` ends; returns the API calls it made (nil without one).
    func withService<T: Sendable>(
        estate: Estate, stages: [SyncStage], firewallThroughAPI: Bool, stats: MachineStats, stacksDirectory: String?, store: StateStore?,
        _ body: (SyncService) async throws -> T
    ) async throws -> (result: T, apiCalls: Int?) {
        for id in target where estate.guest(id) == nil { throw fail("--target \(id): there is no guest \(id) in the configuration", code: 64) }
        let useAPIFirewall = firewallThroughAPI && stages.contains(.firewall)
        let needsClient = useAPIFirewall || (stages.contains(.guests) && connection.isConfigured)
        let client = needsClient ? try connection.client() : nil
        let scope = target.isEmpty ? nil : GuestScope(Set(target))
        let reporter: any ProgressReporter = progress == .none ? SilentProgress() : StderrProgress()
        var service = SyncService(estate: estate, stages: stages)
        service.scope = scope
        if progress != .none { service.progress = { reporter.report($0) } }
        service.firewallThroughAPI = useAPIFirewall
        service.nodeName = nodeName(for: estate)
        // One runner per kind: the guests' settings, the files, the firewall's rule sets.
        if stages.contains(.guests) {
            if let client {
                let wanted = estate.guests.filter { $0.enabled && (scope?.guests.contains($0.id) ?? true) }
                let guests = GuestSettings(estate: estate, client: client, wanted: wanted)
                service.runners.append(
                    guests.runner(executor: Executor(limits: ExecutionLimits(parallelism: parallelism), failpoints: Failpoints.fromEnvironment())))
            } else {
                service.notApplied.append((.guests, "needs the Proxmox API: name it with --api https://host:8006 (or $PHOENIX_API) and a token file"))
            }
        }
        let fileStages = stages.filter { ![.guests, .certs, .swarm, .stacks].contains($0) && !($0 == .firewall && useAPIFirewall) }
        let vms = VMDirectory { [connection] in try connection.makeClient() }
        if !fileStages.isEmpty {
            let engine = engine(for: estate, stats: stats, stacksDirectory: stacksDirectory, vms: vms)
            service.runners.append(FilesKind(engine: engine, stages: fileStages).runner(failpoints: Failpoints.fromEnvironment()))
        }
        if let client, useAPIFirewall {
            var rules = FirewallRules(estate: estate, client: client)
            rules.scope = scope
            let executor = Executor(limits: ExecutionLimits(parallelism: parallelism), failpoints: Failpoints.fromEnvironment())
            service.runners.append(ExecutedRunner(APIFirewallKind(rules: rules), executor: executor, report: APIFirewallKind.report))
        }
        for name in force where !estate.certificates.contains(where: { $0.commonName == name }) {
            throw fail("--force \(name): no certificate of the manifest has that common name", code: 64)
        }
        let certVMs = stages.contains(.certs) ? VMDirectory { try connection.makeClient() } : nil
        // The Swarm secrets fed by certificates: what is installed now, then what the certs stage installs.
        let feed = CertificateFeed()
        if !Set(stages).isDisjoint(with: [.swarm, .services, .stacks]) {
            await CertConvergence.prefill(
                feed, estate: estate, host: machines(for: estate, stats: stats, vms: VMDirectory { try connection.makeClient() }).host)
        }
        if let certVMs {
            var certs = CertConvergence(estate: estate, machines: machines(for: estate, stats: stats, vms: certVMs))
            certs.feed = feed
            certs.force = Set(force)
            let executor = Executor(limits: ExecutionLimits(parallelism: parallelism), failpoints: Failpoints.fromEnvironment())
            service.runners.append(certs.runner(executor: executor, stats: service.stats))
        }
        let connections = swarmRunners(estate: estate, stages: stages, feed: feed, into: &service)
        do {
            let result = try await body(service)
            service.stats.count(.engineCalls, await connections?.calls() ?? 0)
            await client?.shutdown()
            await connections?.shutdown()
            await certVMs?.shutdown()
            await vms.shutdown()
            return (result, client?.counter.total)
        } catch {
            await client?.shutdown()
            await connections?.shutdown()
            await certVMs?.shutdown()
            await vms.shutdown()
            throw error
        }
    }
}

extension SyncOptions {
    /// The Swarm's and the stacks' runners, over one connection per daemon (returned, to be shut down).
    func swarmRunners(estate: Estate, stages: [SyncStage], feed: CertificateFeed, into service: inout SyncService) -> SwarmConnections? {
        let desired = SwarmDesired(estate: estate)
        let portainer = stages.contains(.services) && (desired.stacks.contains { $0.stage == .services } || !desired.agentVMs.isEmpty)
        let wanted = stages.filter { $0 == .swarm || $0 == .stacks }
        guard !wanted.isEmpty || portainer else { return nil }
        guard let manager = desired.manager else {
            for stage in wanted { service.notApplied.append((stage, "no VM has swarm_role manager: there is no Swarm to converge")) }
            return nil
        }
        let connections = SwarmConnections(settings: estate.settings.docker)
        let swarm = SwarmConvergence(estate: estate, connections: connections, secrets: SecretVersions(estate: estate, desired: desired, feed: feed))
        if wanted.contains(.swarm) {
            // Every resource at once but the workers, which the graph orders after the manager.
            let executor = Executor(limits: ExecutionLimits(parallelism: max(8, parallelism)), failpoints: Failpoints.fromEnvironment())
            service.runners.append(swarm.runner(executor: executor))
        }
        if wanted.contains(.stacks) || portainer {
            do throws(DockerError) {
                let deployer = CLIStackDeployer(
                    cli: estate.settings.docker.cli, endpoint: try connections.endpoint(manager), resolveImage: estate.settings.docker.resolveImage)
                var stacks = StackDeployments(estate: estate, connections: connections, deployer: deployer, secrets: swarm.secrets)
                stacks.prune = prune
                let executor = Executor(limits: ExecutionLimits(parallelism: parallelism), failpoints: Failpoints.fromEnvironment())
                if portainer {
                    let kind = PortainerServices(server: stacks, agent: PortainerAgent(estate: estate, connections: connections))
                    service.runners.append(kind.runner(executor: executor, connections: connections))
                }
                if wanted.contains(.stacks) {
                    let kind = StacksKind(deployments: stacks) { digests in await swarm.pruneUnusedVersions(digests: digests) }
                    service.runners.append(kind.runner(executor: executor, connections: connections))
                }
            } catch {
                service.notApplied.append((.stacks, error.description))
            }
        }
        return connections
    }
}

/// Plans and sync outcomes of every kind, as text or JSON: the guests first, the files as the
/// engine's printer renders them, the firewall through the API last.
enum SyncPrinter {
    /// `allFirewallLines`: the API firewall's scopes that are as configured too (sync lists them all).
    static func text(_ outcome: SyncService.Outcome, verbose: Bool = false, paint: Paint, allFirewallLines: Bool = false) -> String {
        var out = ""
        for (stage, reason) in outcome.notApplied { out += "\(stage.rawValue): not applied: \(reason)\n" }
        for report in outcome.reports {
            if let files = report as? FilesReport {
                if let error = files.error { out += "files: failed: \(TextRules.printable(error, limit: 1200))\n" }
                switch files.result {
                case .none: break
                case let .planned(plan): out += PlanPrinter.text(plan, verbose: verbose, paint: paint)
                case let .synced(synced):
                    out += PlanPrinter.outcomeText(
                        SyncOutcome(run: outcome.run, plan: synced.plan, units: synced.units, interrupted: outcome.interrupted), paint: paint)
                }
            } else {
                out += report.lines(verbose: verbose || (allFirewallLines && report is FirewallReport)).map { $0 + "\n" }.joined()
            }
        }
        return out
    }

    static func json(_ outcome: SyncService.Outcome) -> JSONValue {
        var document: JSONValue
        switch outcome.files {
        case .none: document = .object([("version", .number(1))])
        case let .planned(plan): document = PlanPrinter.planJSON(plan)
        case let .synced(files):
            document = PlanPrinter.outcomeJSON(SyncOutcome(run: outcome.run, plan: files.plan, units: files.units, interrupted: outcome.interrupted))
        }
        if !outcome.notApplied.isEmpty {
            let files: [JSONValue]
            if case let .object(members) = document, case let .array(items)? = members.first(where: { $0.key == "not_applied" })?.value {
                files = items
            } else {
                files = []
            }
            let more = outcome.notApplied.map { JSONValue.object([("stage", .string($0.stage.rawValue)), ("reason", .string($0.reason))]) }
            document = document.setting("not_applied", .array(more + files))
        }
        for report in outcome.reports { if let member = report.json { document = document.adding(member.key, member.value) } }
        if outcome.run != nil { document = document.setting("succeeded", .bool(outcome.succeeded)) }
        return document
    }
}

extension JSONValue {
    /// This object with `key` set to `value` (replaced where it is, else added).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        guard members.contains(where: { $0.key == key }) else { return adding(key, value) }
        return .object(members.map { $0.key == key ? (key: key, value: value) : $0 })
    }
}
