import Foundation
import PhoenixCore
import PhoenixEngine

/// A container reached through its host with `pct exec` and `pct push` (production's guest seam).
public struct PctGuestMachine: CommandMachine {
    public let id: Int
    public let host: any Machine
    public var name: String { "guest \(id)" }

    public init(id: Int, host: any Machine) {
        self.id = id
        self.host = host
    }

    private func exec(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        try await host.run(["pct", "exec", String(id), "--"] + argv, timeout: timeout)
    }

    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        // Through a private file on the host: pct push copies a host file into the container.
        let staging = "/tmp/phoenix-push-\(id)-\(UUID().uuidString)"
        try await host.write(staging, contents, mode: "0600")
        do throws(MachineError) {
            let directory = (path as NSString).deletingLastPathComponent
            let made = try await exec(["mkdir", "-p", "--", directory], timeout: 30)
            guard made.status == 0 else { throw MachineError(machine: name, operation: "create \(directory)", reason: made.excerpt) }
            let pushed = try await host.run(["pct", "push", String(id), staging, path, "--perms", mode], timeout: 60)
            guard pushed.status == 0 else { throw MachineError(machine: name, operation: "push \(path)", reason: pushed.excerpt) }
        } catch {
            try? await host.remove(staging)
            throw error
        }
        try? await host.remove(staging)
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        try await exec(argv, timeout: timeout)
    }
}
