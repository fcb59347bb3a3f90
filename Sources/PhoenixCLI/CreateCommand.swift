import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix create [ID...]`: creates what is missing, templates before their clones.
///
/// Concurrency that fits Proxmox: guests are made in waves (a clone waits for its template); in a
/// wave, guests that share a lane — clones of one template, or containers from OS templates onto
/// one storage, or empty VMs on one node — are made one at a time (Proxmox locks the source and
/// the storage), and different lanes at once. VMIDs come from the configuration, never from
/// `/cluster/nextid`, so parallel creates cannot race for one.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create missing guests (and what they are cloned from or need), templates first; existing guests are left alone.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "The node for guests that are not clones (default: phoenix.node_name, else the first online node).")
    var node: String?
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 600
    @Option(name: .long, help: "How many lanes (different templates or storages) create at once.") var parallelism: Int = 4
    @Flag(name: .long, help: "Print the waves and lanes creation would take, and create nothing.") var dryRun = false
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    /// The lane a guest is created in: creates in one lane run one at a time.
    static func lane(of guest: Guest, node: String) -> String {
        if let source = guest.cloneFrom { return "clones of \(source)" }
        if guest.kind == .lxc { return "containers onto \(guest.hardware.storagePool ?? "the default storage") on \(node)" }
        return "VMs on \(node)"
    }

    /// The guests to create in waves (a clone comes in the wave after its source), each wave split
    /// into lanes. `existing` are the guests already on the cluster.
    static func waves(_ pending: [Guest], existing: Set<Int>, node: String) -> [[(lane: String, guests: [Guest])]] {
        var pending = pending
        var present = existing
        var waves: [[(lane: String, guests: [Guest])]] = []
        while true {
            let ready = pending.filter { guest in guest.cloneFrom.map(present.contains) ?? true }
            guard !ready.isEmpty else { return waves }
            var lanes: [(lane: String, guests: [Guest])] = []
            for guest in ready {
                let lane = Self.lane(of: guest, node: node)
                if let index = lanes.firstIndex(where: { $0.lane == lane }) { lanes[index].guests.append(guest) } else { lanes.append((lane, [guest])) }
            }
            waves.append(lanes)
            present.formUnion(ready.map(\.id))
            pending.removeAll { guest in ready.contains { $0.id == guest.id } }
        }
    }

    func run() async throws { try await run(counter: CallCounter()) }

    func run(counter: CallCounter) async throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let graph = GuestGraph(estate: estate, verb: .create, targets: ids.isEmpty ? nil : ids)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        try await proxmox.withClient(counter: counter) { client async throws(ProxmoxError) in
            var cluster = try await client.guestsByID()
            var defaultNode = node ?? estate.settings.nodeName
            if defaultNode == nil { defaultNode = try await client.onlineNodes().first }
            let fallbackNode = defaultNode ?? "pve"
            var pending: [Guest] = []
            for id in graph.order {
                guard let guest = estate.guest(id) else { continue }
                if cluster[id] != nil {
                    FileHandle.standardOutput.write(Data("\(id) \(TextRules.printable(guest.name)): exists\n".utf8))
                } else {
                    pending.append(guest)
                }
            }
            let waves = Self.waves(pending, existing: Set(cluster.keys), node: fallbackNode)
            let planned = Set(waves.flatMap { $0.flatMap { $0.guests.map(\.id) } })
            if let stuck = pending.first(where: { !planned.contains($0.id) }) {
                throw ProxmoxError(call: "guest \(stuck.id)", kind: .refused, message: "its clone source \(stuck.cloneFrom ?? 0) does not exist on the cluster")
            }
            for (number, wave) in waves.enumerated() {
                if dryRun {
                    for lane in wave {
                        let guests = lane.guests.map { "\($0.id) \(TextRules.printable($0.name))" }.joined(separator: ", ")
                        FileHandle.standardOutput.write(Data("wave \(number + 1), \(lane.lane): \(guests)\n".utf8))
                    }
                    continue
                }
                let lines = try await createLanes(wave.map(\.guests), cluster: cluster, node: fallbackNode, client: client)
                FileHandle.standardOutput.write(Data(lines.joined().utf8))
                cluster = try await client.guestsByID()
            }
            if dryRun { FileHandle.standardOutput.write(Data("Dry run: nothing was created.\n".utf8)) }
        }
    }

    /// Runs lanes at once (at most `parallelism`), each one guest at a time; returns the output
    /// lines in lane order. The first failure is thrown after the lanes already running finish.
    private func createLanes(_ lanes: [[Guest]], cluster: [Int: ProxmoxGuest], node: String, client: ProxmoxClient) async throws(ProxmoxError) -> [String] {
        let timeout = taskTimeout
        let results = await withTaskGroup(of: (Int, [String], ProxmoxError?).self) { group in
            var next = 0
            func addLane() {
                guard next < lanes.count else { return }
                let index = next
                next += 1
                group.addTask {
                    var lines: [String] = []
                    for guest in lanes[index] {
                        let source = guest.cloneFrom.flatMap { cluster[$0] }
                        let started = Date()
                        do throws(ProxmoxError) {
                            try await client.create(guest, from: source, node: source?.node ?? node, timeout: timeout)
                        } catch {
                            return (index, lines, error)
                        }
                        let how = source.map { "cloned from \($0.vmid)" } ?? "created"
                        lines.append(String(format: "%d %@: %@ (%.1f s)\n", guest.id, TextRules.printable(guest.name), how, Date().timeIntervalSince(started)))
                    }
                    return (index, lines, nil)
                }
            }
            for _ in 0..<max(1, parallelism) { addLane() }
            var collected: [(Int, [String], ProxmoxError?)] = []
            for await result in group {
                collected.append(result)
                addLane()
            }
            return collected.sorted { $0.0 < $1.0 }
        }
        let lines = results.flatMap(\.1)
        if let failure = results.compactMap(\.2).first {
            FileHandle.standardOutput.write(Data(lines.joined().utf8))
            throw failure
        }
        return lines
    }
}
