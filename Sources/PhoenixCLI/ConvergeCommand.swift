import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
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

    /// Why a guest's configuration is read, or nil when it is not.
    static func readReason(fingerprint: String, observed: ProxmoxGuest, record: GuestRecord?, refresh: Bool) -> String? {
        guard let record else { return "not converged by phoenix before" }
        if refresh { return "--refresh" }
        if record.fingerprint != fingerprint { return "the configuration changed since run \(record.run)" }
        if record.observed != observed.observed { return "changed on the cluster since run \(record.run)" }
        return nil
    }

    func run() async throws { try await run(counter: CallCounter()) }

    func run(counter: CallCounter) async throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let wanted = estate.guests.filter { $0.enabled && (ids.isEmpty || ids.contains($0.id)) }
        let location = StateLocation(option: proxmox.state)
        // A dry run never creates the store; a real one records a run and holds the lock.
        let store = dryRun ? try location.existing() : try location.writable()
        let records: [Int: GuestRecord]
        do { records = try store?.guestRecords() ?? [:] } catch { throw fail(error.description) }
        var run: Int64?
        if let store, !dryRun {
            do { run = try store.beginRun(command: (["converge"] + ids.map(String.init)).joined(separator: " ")).run } catch { throw fail(error.description) }
        }

        let before = counter.total
        let client = try proxmox.connection.client(counter: counter)
        defer { proxmox.printStats(client, started: started, before: before) }
        var report = Report()
        do throws(ProxmoxError) {
            try await converge(wanted, estate: estate, records: records, client: client, report: &report)
        } catch {
            await client.shutdown()
            if let store, let run { try? store.finishRun(run, outcome: "failed", summary: error.description) }
            throw fail(error.description)
        }
        await client.shutdown()
        if let store, let run {
            do {
                try store.recordGuests(
                    report.converged.map { GuestRecord(vmid: $0.vmid, fingerprint: $0.fingerprint, observed: $0.observed, run: run, pending: $0.pending) })
                try store.forgetGuests(report.forgotten)
                let changed = report.documents.count
                try store.finishRun(run, outcome: changed == 0 ? "no changes" : "succeeded", summary: "converge: \(changed) guests changed")
            } catch {
                throw fail(error.description)
            }
        }
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)), ("dry_run", .bool(dryRun)), ("read", .number(Double(report.read))), ("not_read", .number(Double(report.notRead))),
                ("guests", .array(report.documents)),
            ])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let changed = report.documents.count
            var lines = report.lines
            if report.notRead > 0 { lines.append("\(report.notRead) guests unchanged since phoenix converged them were not read (--refresh reads them).") }
            lines.append(dryRun ? "Dry run: \(changed) guests would change; nothing was changed." : "\(changed) guests changed.")
            FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
        }
    }

    /// What a run found and did, for the output and the state store.
    struct Report {
        var lines: [String] = []
        var documents: [JSONValue] = []
        var converged: [(vmid: Int, fingerprint: String, observed: String, pending: [String])] = []
        var forgotten: [Int] = []
        var read = 0
        var notRead = 0
    }

    private func converge(
        _ wanted: [Guest], estate: Estate, records: [Int: GuestRecord], client: ProxmoxClient, report: inout Report
    ) async throws(ProxmoxError) {
        let cluster = try await client.guestsByID()
        var toRead: [(Guest, ProxmoxGuest)] = []
        var reasons: [Int: String] = [:]
        for guest in wanted {
            guard let actual = cluster[guest.id] else {
                report.lines.append("\(guest.id) \(guest.name): absent (phoenix create \(guest.id) first)")
                if records[guest.id] != nil { report.forgotten.append(guest.id) }
                continue
            }
            if let reason = Self.readReason(
                fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: actual, record: records[guest.id], refresh: refresh)
            {
                toRead.append((guest, actual))
                reasons[guest.id] = reason
            } else {
                report.notRead += 1
            }
        }
        report.read = toRead.count
        let plans = try await client.configPlans(for: toRead)
        var applied: [(id: Int, pending: [String])] = []
        for (plan, (guest, _)) in zip(plans, toRead) {
            let id = plan.guest.vmid
            let name = guest.name
            let fingerprint = ProxmoxGuestConfig.fingerprint(for: guest)
            if plan.changes.isEmpty {
                report.lines.append("\(id) \(name): as configured")
                report.converged.append((id, fingerprint, plan.guest.observed, records[id]?.pending ?? []))
                continue
            }
            report.lines.append("\(id) \(name): read because \(reasons[id] ?? "asked")")
            for change in plan.changes { report.lines.append("\(id) \(name): \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
            var waiting: [String] = []
            if !dryRun {
                waiting = try await client.apply(plan)
                // Settings still pending from an earlier run wait for the same reboot.
                let pending = Array(Set(waiting + (records[id]?.pending ?? []))).sorted()
                if !waiting.isEmpty && reboot {
                    try await client.reboot(plan.guest, timeout: 300)
                    report.lines.append("\(id) \(name): rebooted for \(pending.joined(separator: ", "))")
                    applied.append((id, []))
                } else {
                    if !waiting.isEmpty {
                        report.lines.append("\(id) \(name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                    }
                    applied.append((id, plan.guest.status == "running" ? pending : []))
                }
            }
            report.documents.append(
                .object([
                    ("id", .string(String(id))), ("read_because", .string(reasons[id] ?? "")),
                    (
                        "changes",
                        .array(
                            plan.changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })
                    ),
                    ("waiting_for_reboot", .array(waiting.map(JSONValue.string))),
                ]))
        }
        // Settings an earlier run left waiting for a reboot, on guests this run did not change.
        let changed = Set(applied.map(\.id))
        for guest in wanted where !changed.contains(guest.id) {
            guard let record = records[guest.id], !record.pending.isEmpty, let actual = cluster[guest.id] else { continue }
            let name = guest.name
            let keep = report.converged.first { $0.vmid == guest.id }.map { ($0.fingerprint, $0.observed) } ?? (record.fingerprint, record.observed)
            report.converged.removeAll { $0.vmid == guest.id }
            if actual.status != "running" {
                report.converged.append((guest.id, keep.0, keep.1, []))  // a stopped guest takes them at its next start
            } else if reboot && !dryRun {
                let still = try await client.pendingSettings(actual, among: record.pending)
                if !still.isEmpty {
                    try await client.reboot(actual, timeout: 300)
                    report.lines.append("\(guest.id) \(name): rebooted for \(still.joined(separator: ", ")) (set by run \(record.run))")
                    applied.append((guest.id, []))
                } else {
                    report.converged.append((guest.id, keep.0, keep.1, []))
                }
            } else {
                report.lines.append(
                    "\(guest.id) \(name): \(record.pending.joined(separator: ", ")) take effect at the next reboot (set by run \(record.run); --reboot to reboot now)"
                )
                report.converged.append((guest.id, keep.0, keep.1, record.pending))
            }
        }
        guard !applied.isEmpty else { return }
        // One more bulk read: what the cluster shows of the changed guests now is what the next
        // run compares with (and it confirms the change is visible).
        let after = try await client.guestsByID()
        for (id, pending) in applied {
            guard let guest = estate.guest(id), let now = after[id] else { continue }
            report.converged.append((id, ProxmoxGuestConfig.fingerprint(for: guest), now.observed, pending))
        }
    }
}
