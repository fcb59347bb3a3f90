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
        estate: Estate, stages: [SyncStage], firewallThroughAPI: Bool = false, options: KindOptions = KindOptions(), stats: MachineStats = MachineStats(),
        stacksDirectory: String?, store: (any StateBackend)?, refresh: Bool = false, _ body: (SyncService) async throws -> T
    ) async throws -> (result: T, apiCalls: Int?) {
        let lease = try await service(
            estate: estate, stages: stages, firewallThroughAPI: firewallThroughAPI, options: options, stats: stats, stacksDirectory: stacksDirectory,
            refresh: refresh)
        do {
            let result = try await body(lease.service)
            await lease.release()
            return (result, lease.apiCalls())
        } catch {
            await lease.release()
            throw error
        }
    }

    /// The sync service for `stages` over the live adapters this command names, and how to shut
    /// them down: what `withService` wraps, and what the agent leases for each of its runs.
    func service(
        estate: Estate, stages: [SyncStage], firewallThroughAPI: Bool = false, options: KindOptions = KindOptions(), stats: MachineStats = MachineStats(),
        stacksDirectory: String?, refresh: Bool = false, quiet: Bool = false
    ) async throws -> (service: SyncService, release: @Sendable () async -> Void, apiCalls: @Sendable () -> Int?) {
        for id in target where estate.guest(id) == nil { throw fail("--target \(id): there is no guest \(id) in the configuration", code: 64) }
        if let name = estate.unknownCertificates(force).first { throw fail("--force \(name): no certificate of the manifest has that common name", code: 64) }
        // The adapters this command names, whatever the stages: each kind's registration takes what
        // it needs. None connects before it is used (the Swarm's daemons, the VMs' agents), and the
        // API client is made only when the command names an API, so a broken token file is said at once.
        let useAPIFirewall = firewallThroughAPI && stages.contains(.firewall)
        let client = useAPIFirewall || connection.isConfigured ? try connection.client() : nil
        let vms = VMDirectory { [connection] in try connection.makeClient() }
        let swarm = SwarmConnections(settings: estate.settings.docker)
        var environment = KindEnvironment(estate: estate, stages: stages, stats: RunStats())
        environment.options = options
        environment.parallelism = max(1, parallelism)
        environment.failpoints = Failpoints.fromEnvironment()
        environment.scope = target.isEmpty ? nil : GuestScope(Set(target))
        environment.options[ForceRenewal.self] = Set(force)
        environment.options[PruneStacks.self] = prune
        environment.options[FirewallThroughAPI.self] = useAPIFirewall
        environment.options[FileGraphInputs.self].nodeName = nodeName(for: estate)
        environment.refresh = refresh
        environment.proxmox = client
        environment.swarm = swarm
        let machines = machines(for: estate, stats: stats, vms: vms)
        environment.machines = { machines }
        // The file engine (which reads the stack files) is made when the files kind asks for it.
        environment.engine = { [self] in engine(for: estate, stats: stats, stacksDirectory: stacksDirectory, vms: vms, quiet: quiet) }
        var service = await SyncService.assemble(environment)
        service.lockWait = stateStore.lockWait
        if quiet {
            service.progress = { TaskProgress.report($0) }
        } else if progress != .none {
            let reporter = StderrProgress()
            service.progress = { reporter.report($0) }
        }
        return (
            service,
            {
                await client?.shutdown()
                await swarm.shutdown()
                await vms.shutdown()
            },
            { client?.counter.total }
        )
    }
}

/// Plans and sync outcomes of every kind, as text or JSON: each kind's part, in the registry's
/// order; the stages not applied first.
enum SyncPrinter {
    static func text(_ outcome: SyncService.Outcome, verbose: Bool = false, paint: Paint) -> String {
        let context = ReportContext(run: outcome.run, interrupted: outcome.interrupted, paint: paint)
        return outcome.notApplied.map { "\($0.stage.rawValue): not applied: \($0.reason)\n" }.joined()
            + outcome.reports.map { $0.text(verbose: verbose, context: context) }.joined()
    }

    static func json(_ outcome: SyncService.Outcome) -> JSONValue { outcome.json() }
}
