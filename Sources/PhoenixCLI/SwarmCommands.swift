import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixServices

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
    @Option(name: .long, help: "The state database (its key names the secrets' versions; default: $PHOENIX_STATE).") var state: String?
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        guard SwarmDesired(estate: estate).manager != nil else { throw fail("no VM has swarm_role manager: there is no Swarm to show", code: 1) }
        let digests = try StateLocation(option: state).existing()?.digests ?? ContentDigests(key: nil)
        let status = try await readStatus(estate) { connections throws(DockerError) in
            try await SwarmStatus.read(estate: estate, connections: connections, digests: digests)
        }
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
    }
}

struct StacksStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every stack and service: desired and running replicas, the last deploy's run and spec hash, health. Changes nothing.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The state database (default: $PHOENIX_STATE, else /var/lib/phoenix/state.sqlite).") var state: String?
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        let records = try StateLocation(option: state).existing()?.stackRecords() ?? [:]
        let status = try await readStatus(estate) { connections throws(DockerError) in
            try await StacksStatus.read(estate: estate, connections: connections, records: records)
        }
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
    }
}

/// Reads a status over one connection per daemon, shut down however it ends; a daemon that cannot
/// be read is the command's error (exit 1).
func readStatus<Status: Sendable>(_ estate: Estate, _ read: (SwarmConnections) async throws(DockerError) -> Status) async throws -> Status {
    let connections = SwarmConnections(settings: estate.settings.docker)
    do throws(DockerError) {
        let status = try await read(connections)
        await connections.shutdown()
        return status
    } catch {
        await connections.shutdown()
        throw fail(error.description, code: 1)
    }
}
