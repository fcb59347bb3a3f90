import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices
import PhoenixState

/// `phoenix delete ID...`: deletes guests phoenix created (dependents first); others only with --force.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete guests phoenix created (stopped first); a guest without phoenix's ownership tag is refused unless --force.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Delete even a guest phoenix did not create.") var force = false
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 300
    @Argument(help: "Guest ids.") var ids: [Int]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name the guests to delete") }
    }

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try await proxmox.stateStore.location.existing() != nil ? try await proxmox.stateStore.location.writable() : nil
        let (force, taskTimeout, ids) = (self.force, self.taskTimeout, self.ids)
        try await proxmox.withClient { client async throws(ProxmoxError) in
            var deletion = GuestDeletion(estate: estate, client: client)
            deletion.force = force
            deletion.taskTimeout = taskTimeout
            try await deletion.delete(ids, store: store) { guest, forgotten in
                if let forgotten { FileHandle.standardError.write(Data("warning: \(forgotten.description)\n".utf8)) }
                let line = guest.name.map { "\(guest.id) \(TextRules.printable($0)): deleted" } ?? "\(guest.id): not on the cluster, nothing to delete"
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
    }
}
