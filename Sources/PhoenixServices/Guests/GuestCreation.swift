import Foundation
import PhoenixCore
import PhoenixEngine

/// `create`: makes the guests that are missing, templates before their clones.
///
/// Concurrency that fits Proxmox: guests are made in waves (a clone waits for its template); in a
/// wave, guests that share a lane — clones of one template, or containers from OS templates onto
/// one storage, or empty VMs on one node — are made one at a time (Proxmox locks the source and
/// the storage), and different lanes at once. VMIDs come from the configuration, never from
/// `/cluster/nextid`, so parallel creates cannot race for one.
public struct GuestCreation: Sendable {
    public var estate: Estate
    public var client: any ProxmoxAPI
    /// The node for guests that are not clones (nil: phoenix.node_name, else the first online node).
    public var node: String?
    public var taskTimeout: TimeInterval = 600
    /// How many lanes create at once.
    public var parallelism = 4

    public init(estate: Estate, client: any ProxmoxAPI) {
        self.estate = estate
        self.client = client
    }

    /// What a run printed, line by line, in order.
    public struct Report: Sendable {
        public var lines: [String] = []
    }

    /// The lane a guest is created in: creates in one lane run one at a time.
    public static func lane(of guest: Guest, node: String) -> String {
        if let source = guest.cloneFrom { return "clones of \(source)" }
        if guest.kind == .lxc { return "containers onto \(guest.hardware.storagePool ?? "the default storage") on \(node)" }
        return "VMs on \(node)"
    }

    /// The guests to create in waves (a clone comes in the wave after its source), each wave split
    /// into lanes. `existing` are the guests already on the cluster.
    public static func waves(_ pending: [Guest], existing: Set<Int>, node: String) -> [[(lane: String, guests: [Guest])]] {
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

    /// Creates (or with `dryRun` only lists the waves and lanes of) the guests of `order` that are
    /// missing; `emit` hears each line as it happens. The first failure is thrown after the lanes
    /// already running finish.
    public func create(_ order: [Int], dryRun: Bool, emit: @Sendable (String) -> Void) async throws(ProxmoxError) {
        var cluster = try await client.guestsByID()
        var defaultNode = node ?? estate.settings.nodeName
        if defaultNode == nil { defaultNode = try await client.onlineNodes().first }
        let fallbackNode = defaultNode ?? "pve"
        var pending: [Guest] = []
        for id in order {
            guard let guest = estate.guest(id) else { continue }
            if cluster[id] != nil { emit("\(id) \(TextRules.printable(guest.name)): exists") } else { pending.append(guest) }
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
                    emit("wave \(number + 1), \(lane.lane): \(guests)")
                }
                continue
            }
            let (lines, failure) = await createLanes(wave.map(\.guests), cluster: cluster, node: fallbackNode)
            lines.forEach(emit)
            if let failure { throw failure }
            cluster = try await client.guestsByID()
        }
        if dryRun { emit("Dry run: nothing was created.") }
    }

    /// Runs lanes at once (at most `parallelism`), each one guest at a time; the lines in lane
    /// order, and the first failure.
    private func createLanes(_ lanes: [[Guest]], cluster: [Int: ProxmoxGuest], node: String) async -> ([String], ProxmoxError?) {
        let (client, timeout) = (self.client, taskTimeout)
        let results = await bounded(lanes, limit: parallelism) { lane -> ([String], ProxmoxError?) in
            var lines: [String] = []
            for guest in lane {
                let source = guest.cloneFrom.flatMap { cluster[$0] }
                let started = Date()
                do throws(ProxmoxError) {
                    try await client.create(guest, from: source, node: source?.node ?? node, timeout: timeout)
                } catch {
                    return (lines, error)
                }
                let how = source.map { "cloned from \($0.vmid)" } ?? "created"
                lines.append(String(format: "%d %@: %@ (%.1f s)", guest.id, TextRules.printable(guest.name), how, Date().timeIntervalSince(started)))
            }
            return (lines, nil)
        }
        return (results.flatMap(\.0), results.compactMap(\.1).first)
    }
}
