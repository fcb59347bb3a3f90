import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices

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
        let order: [Int]
        switch GuestPower.order(verb, targets: only ?? (ids.isEmpty ? nil : ids), in: estate) {
        case let .failure(refusal): throw fail(refusal.description, code: { if case .cycle = refusal { return 65 } else { return 64 } }())
        case let .success(walk): order = walk
        }
        let taskTimeout = self.taskTimeout
        let steps = try await proxmox.withClient(counter: counter) { client async throws(ProxmoxError) in
            var power = GuestPower(estate: estate, client: client)
            power.taskTimeout = taskTimeout
            return try await power.walk(order, to: state) { FileHandle.standardOutput.write(Data((Self.line($0) + "\n").utf8)) }
        }
        return steps.compactMap { if case .changed = $0.outcome { return $0.id } else { return nil } }
    }

    static func line(_ step: GuestPower.Step) -> String {
        switch step.outcome {
        case .absent: return "\(step.id): not on the cluster, nothing to stop"
        case .already: return "\(step.id) \(TextRules.printable(step.name)): already \(step.state)"
        case let .changed(seconds): return String(format: "%d %@: %@ (%.1f s)", step.id, TextRules.printable(step.name), step.state, seconds)
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
