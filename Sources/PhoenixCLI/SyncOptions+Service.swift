import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

extension SyncOptions {
    /// Runs `body` with the sync service for `stages`, assembled from the registered kinds over the
    /// live adapters this command names (the Proxmox API when asked, the machines, the Swarm's
    /// daemons); every adapter is shut down however `body` ends. Returns the API calls it made (nil
    /// without an API client).
    func withService<T: Sendable>(
        estate: Estate, stages: [SyncStage], firewallThroughAPI: Bool = false, stats: MachineStats = MachineStats(), stacksDirectory: String?,
        store: StateStore?, refresh: Bool = false, _ body: (SyncService) async throws -> T
    ) async throws -> (result: T, apiCalls: Int?) {
        for id in target where estate.guest(id) == nil { throw fail("--target \(id): there is no guest \(id) in the configuration", code: 64) }
        for name in force
        where !estate.certificates.contains(where: { $0.commonName == name }) && !estate.refusedCertificates.contains(where: { $0.commonName == name }) {
            throw fail("--force \(name): no certificate of the manifest has that common name", code: 64)
        }
        let useAPIFirewall = firewallThroughAPI && stages.contains(.firewall)
        let client = useAPIFirewall || (stages.contains(.guests) && connection.isConfigured) ? try connection.client() : nil
        let vms = VMDirectory { [connection] in try connection.makeClient() }
        let swarm = Set(stages).isDisjoint(with: [.swarm, .services, .stacks]) ? nil : SwarmConnections(settings: estate.settings.docker)
        var environment = KindEnvironment(estate: estate, stages: stages, stats: RunStats())
        environment.parallelism = max(1, parallelism)
        environment.failpoints = Failpoints.fromEnvironment()
        environment.scope = target.isEmpty ? nil : GuestScope(Set(target))
        environment.force = Set(force)
        environment.prune = prune
        environment.firewallThroughAPI = useAPIFirewall
        environment.refresh = refresh
        environment.proxmox = client
        environment.swarm = swarm
        let machines = machines(for: estate, stats: stats, vms: vms)
        environment.machines = { machines }
        if stages.contains(where: FilesKind.fileStages.contains) {
            let engine = engine(for: estate, stats: stats, stacksDirectory: stacksDirectory, vms: vms)
            environment.engine = { engine }
        }
        var service = await SyncService.assemble(environment)
        service.nodeName = nodeName(for: estate)
        if progress != .none {
            let reporter = StderrProgress()
            service.progress = { reporter.report($0) }
        }
        func shutdown() async {
            environment.stats.count(.engineCalls, await swarm?.calls() ?? 0)
            await client?.shutdown()
            await swarm?.shutdown()
            await vms.shutdown()
        }
        do {
            let result = try await body(service)
            await shutdown()
            return (result, client?.counter.total)
        } catch {
            await shutdown()
            throw error
        }
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
