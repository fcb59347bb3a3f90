import Foundation
import PhoenixCore
import PhoenixEngine

/// Where VMs are on the cluster: one bulk read, made the first time a VM is reached, shared by
/// every VM machine of a run. Creates its API client on first use; `shutdown()` ends it.
public actor VMDirectory {
    private let makeClient: @Sendable () throws -> any ProxmoxAPI
    private var client: (any ProxmoxAPI)?
    private var guests: Task<Result<[Int: ProxmoxGuest], ProxmoxError>, Never>?

    /// `makeClient` throws (with the reason as its description) when no API is configured.
    public init(makeClient: @escaping @Sendable () throws -> any ProxmoxAPI) {
        self.makeClient = makeClient
    }

    /// The client and the VM `id` as the cluster lists it.
    func locate(_ id: Int) async throws(MachineError) -> (any ProxmoxAPI, ProxmoxGuest) {
        let machine = "VM \(id)"
        let client: any ProxmoxAPI
        if let existing = self.client {
            client = existing
        } else {
            do { client = try makeClient() } catch {
                throw MachineError(machine: machine, operation: "reach it through the guest agent", reason: "\(error)")
            }
            self.client = client
        }
        // One bulk read however many VMs ask at once.
        let reading =
            guests
            ?? Task {
                do throws(ProxmoxError) { return .success(try await client.guestsByID()) } catch { return .failure(error) }
            }
        guests = reading
        let cluster: [Int: ProxmoxGuest]
        switch await reading.value {
        case let .success(found): cluster = found
        case let .failure(error): throw MachineError(machine: machine, operation: "find it on the cluster", reason: error.description)
        }
        guard let guest = cluster[id], guest.kind == .qemu else {
            throw MachineError(machine: machine, operation: "find it on the cluster", reason: "no VM \(id) on the cluster (phoenix create \(id) first)")
        }
        return (client, guest)
    }

    public func shutdown() async {
        await client?.shutdown()
    }
}

/// A VM reached through its QEMU guest agent: commands through `agent/exec` (polled with
/// `exec-status` to a real timeout), files through `agent/file-write` with the contents in the API
/// body — never on a command line. The same fixed scripts as over ssh and pct do the rest, with
/// paths only as their arguments.
public struct AgentGuestMachine: CommandMachine {
    public let id: Int
    let directory: VMDirectory
    public var name: String { "VM \(id)" }

    public init(id: Int, directory: VMDirectory) {
        self.id = id
        self.directory = directory
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        let (client, guest) = try await directory.locate(id)
        do throws(ProxmoxError) {
            let result = try await client.agentExec(guest, argv, timeout: timeout)
            return CommandResult(status: Int32(clamping: result.exitCode), stdout: result.stdout, stderr: result.stderr)
        } catch {
            throw MachineError(machine: name, operation: "run \(argv.first ?? "")", reason: error.description)
        }
    }

    /// A private file beside the target (made 0600 first, so the contents are never readable by
    /// others), filled through the agent, then given its mode and renamed over the target.
    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        let staging = "\(path).phoenix-new"
        let prepare = #"umask 077 && mkdir -p -- "$(dirname -- "$1")" && : > "$1""#
        let prepared = try await run(["sh", "-c", prepare, "phoenix-prepare", staging], timeout: 30)
        guard prepared.status == 0 else { throw MachineError(machine: name, operation: "write \(path)", reason: prepared.excerpt) }
        let (client, guest) = try await directory.locate(id)
        do throws(ProxmoxError) {
            try await client.agentWriteFile(guest, path: staging, contents: Array(contents.utf8), timeout: 60)
        } catch {
            throw MachineError(machine: name, operation: "write \(path)", reason: error.description)
        }
        let placed = try await run(["sh", "-c", #"chmod "$3" "$1" && mv -f -- "$1" "$2""#, "phoenix-place", staging, path, mode], timeout: 30)
        guard placed.status == 0 else { throw MachineError(machine: name, operation: "write \(path)", reason: placed.excerpt) }
    }
}
