import Foundation
import PhoenixCore
import PhoenixEngine

/// Where VMs are on the cluster: one bulk read, made the first time a VM is reached, shared by
/// every VM machine of a run. Creates its API client on first use; `shutdown()` ends it.
public final class VMDirectory: @unchecked Sendable {
    private let lock = NSLock()
    private let makeClient: @Sendable () throws -> ProxmoxClient
    private var client: ProxmoxClient?
    private var guests: [Int: ProxmoxGuest]?

    /// `makeClient` throws (with the reason as its description) when no API is configured.
    public init(makeClient: @escaping @Sendable () throws -> ProxmoxClient) {
        self.makeClient = makeClient
    }

    /// The client and the VM `id` as the cluster lists it.
    func locate(_ id: Int) throws(MachineError) -> (ProxmoxClient, ProxmoxGuest) {
        let machine = "VM \(id)"
        lock.lock()
        defer { lock.unlock() }
        let client: ProxmoxClient
        if let existing = self.client {
            client = existing
        } else {
            do { client = try makeClient() } catch {
                throw MachineError(machine: machine, operation: "reach it through the guest agent", reason: "\(error)")
            }
            self.client = client
        }
        if guests == nil {
            guests = try blocking(machine: machine, operation: "find it on the cluster") { () async throws(ProxmoxError) in try await client.guestsByID() }
        }
        guard let guest = guests?[id], guest.kind == .qemu else {
            throw MachineError(machine: machine, operation: "find it on the cluster", reason: "no VM \(id) on the cluster (phoenix create \(id) first)")
        }
        return (client, guest)
    }

    public func shutdown() async {
        let client = lock.withLock { self.client }
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

    public func run(_ argv: [String], timeout: TimeInterval) throws(MachineError) -> CommandResult {
        let (client, guest) = try directory.locate(id)
        let result = try blocking(machine: name, operation: "run \(argv.first ?? "")") { () async throws(ProxmoxError) in
            try await client.agentExec(guest, argv, timeout: timeout)
        }
        return CommandResult(status: Int32(clamping: result.exitCode), stdout: result.stdout, stderr: result.stderr)
    }

    /// A private file beside the target (made 0600 first, so the contents are never readable by
    /// others), filled through the agent, then given its mode and renamed over the target.
    public func write(_ path: String, _ contents: String, mode: String) throws(MachineError) {
        let staging = "\(path).phoenix-new"
        let prepare = #"umask 077 && mkdir -p -- "$(dirname -- "$1")" && : > "$1""#
        let prepared = try run(["sh", "-c", prepare, "phoenix-prepare", staging], timeout: 30)
        guard prepared.status == 0 else { throw MachineError(machine: name, operation: "write \(path)", reason: prepared.excerpt) }
        let (client, guest) = try directory.locate(id)
        try blocking(machine: name, operation: "write \(path)") { () async throws(ProxmoxError) in
            try await client.agentWriteFile(guest, path: staging, contents: Array(contents.utf8), timeout: 60)
        }
        let placed = try run(["sh", "-c", #"chmod "$3" "$1" && mv -f -- "$1" "$2""#, "phoenix-place", staging, path, mode], timeout: 30)
        guard placed.status == 0 else { throw MachineError(machine: name, operation: "write \(path)", reason: placed.excerpt) }
    }

}

/// Runs an API call from synchronous code (the engine's machines) and waits for it. The caller
/// must not be on the concurrency pool's threads: commands run the engine off it.
func blocking<T: Sendable>(machine: String, operation: String, _ body: @escaping @Sendable () async throws(ProxmoxError) -> T) throws(MachineError) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task.detached {
        do throws(ProxmoxError) { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    switch box.get() {
    case let .success(value)?: return value
    case let .failure(error)?: throw MachineError(machine: machine, operation: operation, reason: error.description)
    case nil: throw MachineError(machine: machine, operation: operation, reason: "no result")
    }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, ProxmoxError>?
    func set(_ value: Result<T, ProxmoxError>) { lock.withLock { result = value } }
    func get() -> Result<T, ProxmoxError>? { lock.withLock { result } }
}
