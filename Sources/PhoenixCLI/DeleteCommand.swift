import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
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

    /// Clones before the templates they come from, dependents before what they need: the create
    /// order reversed. Guests the configuration does not know come last, as given.
    static func order(_ ids: [Int], estate: Estate) -> [Int] {
        let known = ids.filter { estate.guest($0) != nil }
        let graph = GuestGraph(estate: estate, verb: .create, targets: known)
        let ordered = graph.order.reversed().filter(known.contains)
        return ordered + ids.filter { !ordered.contains($0) }
    }

    func run() async throws {
        let estate = try global.loadValidEstate()
        var unique: [Int] = []
        for id in self.ids where !unique.contains(id) { unique.append(id) }
        let ids = Self.order(unique, estate: estate)
        // converge's records of deleted guests go with them (a new guest with the VMID is read afresh).
        let location = StateLocation(option: proxmox.state)
        let store = FileManager.default.fileExists(atPath: location.path) ? try location.writable() : nil
        let force = self.force, taskTimeout = self.taskTimeout
        try await proxmox.withClient { client async throws(ProxmoxError) in
            let cluster = try await client.guestsByID()
            // Every guest is checked before any is deleted: a refusal leaves everything as it was.
            let foreign = ids.compactMap { cluster[$0] }.filter { !$0.tags.contains(ProxmoxGuestConfig.ownershipTag) }
            if !force, let first = foreign.first {
                throw ProxmoxError(
                    call: "guest \(first.vmid) (\(first.name))", kind: .refused,
                    message:
                        "it does not carry the \(ProxmoxGuestConfig.ownershipTag) tag, so phoenix did not create it; nothing was deleted (delete it by hand, or pass --force)"
                )
            }
            for id in ids {
                guard let guest = cluster[id] else {
                    FileHandle.standardOutput.write(Data("\(id): not on the cluster, nothing to delete\n".utf8))
                    continue
                }
                try await client.destroy(guest, timeout: taskTimeout)
                do throws(StateError) { try store?.forgetGuests([id]) } catch { FileHandle.standardError.write(Data("warning: \(error.description)\n".utf8)) }
                FileHandle.standardOutput.write(Data("\(id) \(TextRules.printable(guest.name)): deleted\n".utf8))
            }
        }
    }
}
