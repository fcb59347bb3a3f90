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
        let (ids, refresh, reboot) = (self.ids, self.refresh, self.reboot)
        let command = (["converge"] + ids.map(String.init)).joined(separator: " ")
        let outcome = try await proxmox.converge(estate, .guests, command: command, dryRun: dryRun, counter: counter) { environment in
            (environment.refresh, environment.options[RebootGuests.self]) = (refresh, reboot)
            environment.scope = ids.isEmpty ? nil : GuestScope(Set(ids))
        }
        let guests = outcome.report(GuestsReport.self)
        if let error = guests?.error { throw fail(error) }
        let report = guests?.report ?? GuestSettings.Report()
        FileHandle.standardOutput.write(
            Data((format == .json ? JSONOutput.string(report.convergeJSON(dryRun: dryRun)) : report.convergeText(dryRun: dryRun)).utf8))
        if report.changed.contains(where: { $0.failure != nil }) { throw ExitCode.failure }
    }
}

/// `converge` for scripts and for people.
extension GuestSettings.Report {
    func convergeJSON(dryRun: Bool) -> JSONValue {
        .object([
            ("version", .number(1)), ("dry_run", .bool(dryRun)), ("read", .number(Double(read))), ("not_read", .number(Double(notRead))),
            ("guests", .array(changed.map(\.json))),
        ])
    }

    func convergeText(dryRun: Bool) -> String {
        let failed = changed.filter { $0.failure != nil }.count
        var lines = self.lines
        if notRead > 0 { lines.append("\(notRead) guests unchanged since phoenix converged them were not read (--refresh reads them).") }
        lines.append(
            dryRun
                ? "Dry run: \(changed.count) guests would change; nothing was changed."
                : "\(changed.count - failed) guests changed\(failed == 0 ? "" : ", \(failed) failed (their previous settings are back)")."
        )
        return lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n"
    }
}
