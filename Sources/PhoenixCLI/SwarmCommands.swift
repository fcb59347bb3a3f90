import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixServices
import PhoenixState

/// `phoenix swarm status`.
struct SwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm", abstract: "The Docker Swarm as its daemons report it.", subcommands: [SwarmStatusCommand.self])
}

/// `phoenix stacks status`.
struct StacksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stacks", abstract: "The application stacks as the Swarm runs them.", subcommands: [StacksStatusCommand.self])
}

struct SwarmStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Nodes (role, availability, labels desired and actual), the stacks' networks, and their secrets (names only). Changes nothing.")

    @OptionGroup var global: GlobalOptions
    /// The state store (its key names the secrets' versions).
    @OptionGroup var stateStore: StateOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        guard SwarmDesired(estate: estate).manager != nil else { throw fail("no VM has swarm_role manager: there is no Swarm to show", code: 1) }
        let status = try await readStatus(SwarmConvergence.self, .swarm, estate, store: try await stateStore.location.existing())
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
    }
}

struct StacksStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every stack and service: desired and running replicas, the last deploy's run and spec hash, health. Changes nothing.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var stateStore: StateOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        let status = try await readStatus(StacksKind.self, .stacks, estate, store: try await stateStore.location.existing())
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
    }
}

/// Kind `K`'s status for `stage`, read through the registered kinds over one connection per
/// daemon, shut down however it ends; a daemon that cannot be read is the command's error (exit 1).
func readStatus<K: StatusKind>(_ kind: K.Type, _ stage: SyncStage, _ estate: Estate, store: (any StateBackend)?) async throws -> K.Status {
    let connections = SwarmConnections(settings: estate.settings.docker)
    var environment = KindEnvironment(estate: estate, stages: [stage], stats: RunStats())
    environment.swarm = connections
    let read = await SyncService.assemble(environment).readStatus(of: kind, store: store)
    await connections.shutdown()
    return try read.orFail()
}

extension Result where Failure == ResourceFailure {
    /// The value, or the failure as the command's error (exit 1).
    func orFail() throws -> Success {
        switch self {
        case let .success(value): return value
        case let .failure(failure): throw fail(failure.words, code: 1)
        }
    }
}
