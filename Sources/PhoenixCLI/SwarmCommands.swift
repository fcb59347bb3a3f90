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
            try await SwarmStatus.swarm(estate: estate, connections: connections, digests: digests)
        }
        if format == .json { return FileHandle.standardOutput.write(Data(JSONOutput.string(status).utf8)) }
        var out = "manager \(status["manager"]?.stringValue ?? "") (\(status["swarm_state"]?.stringValue ?? ""))\n"
        for node in status["nodes"]?.arrayItems ?? [] {
            let labels = (node["labels"]?.stringMap ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            let desired = (node["desired_labels"]?.stringMap ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            var line = "node \(node["name"]?.stringValue ?? "")  \(node["role"]?.stringValue ?? "")  \(node["availability"]?.stringValue ?? "-")"
            line += "  \(node["state"]?.stringValue ?? node["swarm_state"]?.stringValue ?? "-")  labels \(labels.isEmpty ? "-" : labels)"
            if node["configured"]?.boolValue != false { line += " (configured \(desired.isEmpty ? "-" : desired))" } else { line += " (not configured)" }
            if let stale = node["stale_entries"]?.arrayItems, !stale.isEmpty { line += "  \(stale.count) stale entries" }
            if let error = node["error"]?.stringValue { line += "  \(error)" }
            out += line + "\n"
        }
        for network in status["networks"]?.arrayItems ?? [] {
            let exists = network["exists"]?.boolValue == true ? "exists (\(network["scope"]?.stringValue ?? ""))" : "missing"
            out +=
                "network \(network["name"]?.stringValue ?? "")  \(exists)  used by \(network["used_by"]?.arrayItems.compactMap(\.stringValue).joined(separator: ", ") ?? "")\n"
        }
        for secret in status["secrets"]?.arrayItems ?? [] {
            var line = "secret \(secret["name"]?.stringValue ?? "")  "
            if let reason = secret["no_source"]?.stringValue {
                line += "no source: \(reason)"
            } else if let note = secret["current_unnamed"]?.stringValue {
                line += note
            } else {
                line += "\(secret["current"]?.stringValue ?? "")  \(secret["exists"]?.boolValue == true ? "present" : "missing")"
            }
            line += "  (\(secret["versions"]?.arrayItems.count ?? 0) versions on the Swarm)"
            out += line + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
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
            try await SwarmStatus.stacks(estate: estate, connections: connections, records: records)
        }
        if format == .json { return FileHandle.standardOutput.write(Data(JSONOutput.string(status).utf8)) }
        var out = ""
        for stack in status["stacks"]?.arrayItems ?? [] {
            let run = stack["last_deploy_run"]?.intValue.map { "deployed by run \($0)" } ?? "never deployed by phoenix"
            let configured = stack["configured"]?.boolValue == false ? "  (no longer configured)" : ""
            out += "\(stack["resource"]?.stringValue ?? "")  \(stack["stack"]?.stringValue ?? "")  \(stack["health"]?.stringValue ?? "")  \(run)"
            out += "  spec \(stack["spec_hash"]?.stringValue ?? "-")\(configured)\n"
            for service in stack["services"]?.arrayItems ?? [] {
                let running = "\(service["running"]?.intValue ?? 0)/\(service["desired"]?.intValue ?? 0)"
                out += "  \(service["name"]?.stringValue ?? "")  \(service["image"]?.stringValue ?? "")  \(running)"
                out += "  \(service["update_state"]?.stringValue ?? "-")\(service["converged"]?.boolValue == true ? "" : "  not converged")\n"
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// Reads a status over one connection per daemon, shut down however it ends; a daemon that cannot
/// be read is the command's error (exit 1).
func readStatus(_ estate: Estate, _ read: (SwarmConnections) async throws(DockerError) -> JSONValue) async throws -> JSONValue {
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
