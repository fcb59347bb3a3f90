import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix create [ID...]`: creates what is missing, templates before their clones.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create missing guests (and what they are cloned from or need), templates first; existing guests are left alone.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "The node for guests that are not clones (default: phoenix.node_name, else the first online node).")
    var node: String?
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 600
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    func run() async throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let graph = GuestGraph(estate: estate, verb: .create, targets: ids.isEmpty ? nil : ids)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        let client = try proxmox.client()
        do throws(ProxmoxError) {
            var cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            var defaultNode = node ?? estate.settings.nodeName
            if defaultNode == nil { defaultNode = try await client.onlineNodes().first }
            // Clones from one template are made one at a time: the walk is sequential.
            for id in graph.order {
                guard let guest = estate.guest(id) else { continue }
                if cluster[id] != nil {
                    FileHandle.standardOutput.write(Data("\(id) \(guest.name): exists\n".utf8))
                    continue
                }
                let source = guest.cloneFrom.flatMap { cluster[$0] }
                if let template = guest.cloneFrom, source == nil {
                    throw ProxmoxError(call: "guest \(id)", kind: .refused, message: "its clone source \(template) does not exist on the cluster")
                }
                let started = Date()
                try await client.create(guest, from: source, node: source?.node ?? defaultNode ?? "pve", timeout: taskTimeout)
                cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
                let how = source.map { "cloned from \($0.vmid)" } ?? "created"
                FileHandle.standardOutput.write(Data(String(format: "%d %@: %@ (%.1f s)\n", id, guest.name, how, Date().timeIntervalSince(started)).utf8))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
    }
}
