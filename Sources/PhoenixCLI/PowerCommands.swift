import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix start|stop|restart [ID...]`: walks the dependency graph (dependencies first; stop in
/// reverse), never starts a template, skips a guest already in the wanted state.
struct PowerOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 120
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    /// Returns the guests whose state it changed.
    @discardableResult
    func walk(_ verb: GraphVerb, state: String, only: [Int]? = nil, counter: CallCounter = CallCounter()) async throws -> [Int] {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let targets = only ?? (ids.isEmpty ? nil : ids)
        let graph = GuestGraph(estate: estate, verb: verb, targets: targets)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        let taskTimeout = self.taskTimeout
        return try await proxmox.withClient(counter: counter) { client async throws(ProxmoxError) -> [Int] in
            var changed: [Int] = []
            let cluster = try await client.guestsByID()
            for id in graph.order {
                guard let guest = cluster[id] else {
                    if verb == .stop {
                        FileHandle.standardOutput.write(Data("\(id): not on the cluster, nothing to stop\n".utf8))
                        continue
                    }
                    throw ProxmoxError(call: "guest \(id)", kind: .refused, message: "it does not exist on the cluster (phoenix create \(id) first)")
                }
                if guest.status == state {
                    FileHandle.standardOutput.write(Data("\(id) \(TextRules.printable(guest.name)): already \(state)\n".utf8))
                    continue
                }
                let started = Date()
                try await client.setPower(guest, to: verb == .stop ? "stop" : "start", timeout: taskTimeout)
                changed.append(id)
                FileHandle.standardOutput.write(
                    Data(String(format: "%d %@: %@ (%.1f s)\n", id, TextRules.printable(guest.name), state, Date().timeIntervalSince(started)).utf8))
            }
            return changed
        }
    }
}

struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start guests and what they depend on, dependencies first (templates never).")
    @OptionGroup var power: PowerOptions
    func run() async throws { try await power.walk(.start, state: "running") }
    func run(counter: CallCounter) async throws { try await power.walk(.start, state: "running", counter: counter) }
}

struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart", abstract: "Stop guests and what depends on them (dependents first), then start them all again (dependencies first).")
    @OptionGroup var power: PowerOptions
    func run() async throws {
        // What the stop took down (the targets and what needs them), and the targets, come back up.
        let counter = CallCounter()
        let stopped = try await power.walk(.stop, state: "stopped", counter: counter)
        try await power.walk(.start, state: "running", only: Array(Set(stopped + power.ids)).sorted(), counter: counter)
    }
}

struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop guests and what depends on them, dependents first.")
    @OptionGroup var power: PowerOptions
    func run() async throws { try await power.walk(.stop, state: "stopped") }
}
