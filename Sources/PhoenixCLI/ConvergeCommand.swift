import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix converge [ID...]`: applies what the configuration says about existing guests, plan first.
struct ConvergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "converge",
        abstract: "Set cores, memory, network, start at boot and order on existing guests as configured; the plan first.",
        discussion: "A setting a running guest takes only after a reboot is reported, and the guest is rebooted only with --reboot.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false
    @Flag(name: .long, help: "Reboot running guests whose changes wait for a reboot.") var reboot = false
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    func run() async throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let wanted = estate.guests.filter { $0.enabled && (ids.isEmpty || ids.contains($0.id)) }
        let client = try proxmox.client()
        defer { proxmox.printStats(client, started: started) }
        var lines: [String] = []
        var documents: [JSONValue] = []
        do throws(ProxmoxError) {
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            let present = wanted.compactMap { guest in cluster[guest.id].map { (guest, $0) } }
            for guest in wanted where cluster[guest.id] == nil { lines.append("\(guest.id) \(guest.name): absent (phoenix create \(guest.id) first)") }
            let plans = try await client.configPlans(for: present)
            for plan in plans {
                let name = estate.guest(plan.guest.vmid)?.name ?? plan.guest.name
                if plan.changes.isEmpty {
                    lines.append("\(plan.guest.vmid) \(name): as configured")
                    continue
                }
                for change in plan.changes { lines.append("\(plan.guest.vmid) \(name): \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
                var waiting: [String] = []
                if !dryRun {
                    waiting = try await client.apply(plan)
                    if !waiting.isEmpty {
                        if reboot {
                            try await client.reboot(plan.guest, timeout: 300)
                            lines.append("\(plan.guest.vmid) \(name): rebooted for \(waiting.joined(separator: ", "))")
                        } else {
                            lines.append("\(plan.guest.vmid) \(name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                        }
                    }
                }
                documents.append(.object([
                    ("id", .string(String(plan.guest.vmid))),
                    ("changes", .array(plan.changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })),
                    ("waiting_for_reboot", .array(waiting.map(JSONValue.string))),
                ]))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        if format == .json {
            let document = JSONValue.object([("version", .number(1)), ("dry_run", .bool(dryRun)), ("guests", .array(documents))])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let changed = documents.count
            lines.append(dryRun ? "Dry run: \(changed) guests would change; nothing was changed." : "\(changed) guests changed.")
            FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
        }
    }
}

/// `phoenix letsgo`: create what is missing, converge, start everything, then sync for the guests that ask for it.
struct LetsGoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letsgo",
        abstract: "Create every missing guest, converge and start them all in dependency order; then tell which guests ask for a sync.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions

    func run() async throws {
        // The same options reach each step as given to letsgo (they share global and API options).
        let arguments = Array(CommandLine.arguments.drop { $0 != "letsgo" }.dropFirst())
        let create = try CreateCommand.parse(arguments)
        try await create.run()
        let converge = try ConvergeCommand.parse(arguments)
        try await converge.run()
        let start = try StartCommand.parse(arguments)
        try await start.run()
        let estate = try global.loadValidEstate()
        let asking = estate.guests.filter(\.triggerSyncOnCompletion).map { String($0.id) }
        if !asking.isEmpty {
            FileHandle.standardOutput.write(Data("Guests \(asking.joined(separator: ", ")) ask for a sync: run phoenix sync all.\n".utf8))
        }
    }
}
