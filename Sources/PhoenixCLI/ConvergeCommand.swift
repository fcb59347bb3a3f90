import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

/// `phoenix converge [ID...]`: applies what the configuration says about existing guests, plan first.
///
/// Round trips: one bulk read of the cluster, plus one configuration read for each guest that may
/// have changed. A guest is not read when the state store says phoenix converged it, the
/// configuration asks for the same as then, and the bulk read shows it as it was right after
/// (name, tags, cores, memory, node). `--refresh` reads every guest (settings the bulk read does
/// not show, such as the network, can only be checked that way).
struct ConvergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "converge",
        abstract: "Set cores, memory, network, start at boot and order, and tags on existing guests as configured; the plan first.",
        discussion: """
            A setting a running guest takes only after a reboot is reported, and the guest is rebooted only with --reboot. \
            Guests converged before and unchanged since (by the configuration and by what the cluster shows of them) are \
            not read again; --refresh reads them all.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false
    @Flag(name: .long, help: "Reboot running guests whose changes wait for a reboot.") var reboot = false
    @Flag(name: .long, help: "Read every guest's configuration, even those unchanged since phoenix last converged them.") var refresh = false
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    func run() async throws { try await run(counter: CallCounter()) }

    func run(counter: CallCounter) async throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let wanted = estate.guests.filter { $0.enabled && (ids.isEmpty || ids.contains($0.id)) }
        let location = StateLocation(option: proxmox.state)
        // A dry run never creates the store; a real one records a run and holds the lock.
        let store = dryRun ? try location.existing() : try location.writable()
        let (refresh, reboot, dryRun) = (self.refresh, self.reboot, self.dryRun)
        let command = (["converge"] + ids.map(String.init)).joined(separator: " ")
        let outcome = try await proxmox.withClient(counter: counter) { client async throws(ProxmoxError) -> Result<SyncService.Outcome, any Error> in
            var guests = GuestSettings(estate: estate, client: client, wanted: wanted)
            guests.refresh = refresh
            guests.reboot = reboot
            var service = SyncService(estate: estate, stages: [.guests])
            service.runners = [guests.runner(executor: Executor(failpoints: Failpoints.fromEnvironment()))]
            do {
                guard !dryRun, let store else { return .success(try await service.plan(store: store)) }
                return .success(try await service.sync(store: store, command: command))
            } catch {
                return .failure(error)
            }
        }.get()
        let guests = outcome.reports.lazy.compactMap { $0 as? GuestsReport }.first
        if let error = guests?.error { throw fail(error) }
        let report = guests?.report ?? GuestSettings.Report()
        let failed = report.changed.filter { $0.failure != nil }
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)), ("dry_run", .bool(dryRun)), ("read", .number(Double(report.read))), ("not_read", .number(Double(report.notRead))),
                ("guests", .array(report.changed.map(\.json))),
            ])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let changed = report.changed.count
            var lines = report.lines
            if report.notRead > 0 { lines.append("\(report.notRead) guests unchanged since phoenix converged them were not read (--refresh reads them).") }
            lines.append(
                dryRun
                    ? "Dry run: \(changed) guests would change; nothing was changed."
                    : "\(changed - failed.count) guests changed\(failed.isEmpty ? "" : ", \(failed.count) failed (their previous settings are back)")."
            )
            FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
        }
        if !failed.isEmpty { throw ExitCode.failure }
    }
}
