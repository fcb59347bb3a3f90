import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices

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

    func run() async throws { try await run(counter: CallCounter()) }

    func run(counter: CallCounter) async throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let graph = GuestGraph(estate: estate, verb: .create, targets: ids.isEmpty ? nil : ids)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        let (node, taskTimeout, parallelism, dryRun) = (self.node, self.taskTimeout, self.parallelism, self.dryRun)
        try await proxmox.withClient(counter: counter) { client async throws(ProxmoxError) in
            var creation = GuestCreation(estate: estate, client: client)
            creation.node = node
            creation.taskTimeout = taskTimeout
            creation.parallelism = max(1, parallelism)
            try await creation.create(graph.order, dryRun: dryRun) { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        }
    }
}
