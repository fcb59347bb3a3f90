import Foundation
import PhoenixCore

extension ProxmoxClient {
    /// Runs argv in a VM through the guest agent (`agent/exec`, then `agent/exec-status` until it
    /// exits). A command still running at `timeout` is a failure, never a success.
    public func agentExec(_ guest: ProxmoxGuest, _ argv: [String], timeout: TimeInterval) async throws(ProxmoxError) -> AgentResult {
        let call = "POST \(guest.path)/agent/exec (\(argv.first ?? ""))"
        let started = try await post("\(guest.path)/agent/exec", argv.map { ("command", $0) })
        guard case let .number(pid)? = started["pid"] else { throw ProxmoxError(call: call, kind: .malformed, message: "no pid") }
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt64 = 100_000_000
        while true {
            let status = try await get("\(guest.path)/agent/exec-status", query: [("pid", String(Int(pid)))])
            let exited: Bool =
                switch status["exited"] {
                case .bool(true)?, .number(1)?: true;
                default: false
                }
            if exited {
                let code: Int = if case let .number(value)? = status["exitcode"] { Int(value) } else { -1 }
                func text(_ key: String) -> String { if case let .string(value)? = status[key] { value } else { "" } }
                return AgentResult(exitCode: code, stdout: text("out-data"), stderr: text("err-data"))
            }
            if Date() >= deadline {
                throw ProxmoxError(
                    call: call, kind: .timeout, message: "\(argv.first ?? "the command") in VM \(guest.vmid) still running after \(Int(timeout)) s")
            }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 1_000_000_000)
        }
    }

    /// The most bytes one `agent/file-write` call carries: Proxmox takes at most 61,440 characters of
    /// content, and base64 makes four characters of every three bytes.
    public static let agentChunkSize = 44 * 1024

    /// Writes a file in a VM through the guest agent: the contents travel in the API body (base64),
    /// never on a command line; a large file goes in parts (made 0600 first) that the guest joins
    /// and removes. The file keeps its mode when it exists; callers that write secrets make it first.
    public func agentWriteFile(_ guest: ProxmoxGuest, path: String, contents: [UInt8], timeout: TimeInterval) async throws(ProxmoxError) {
        let chunks = stride(from: 0, to: max(contents.count, 1), by: Self.agentChunkSize).map {
            Array(contents[$0..<min(contents.count, $0 + Self.agentChunkSize)])
        }
        if chunks.count == 1 {
            _ = try await post("\(guest.path)/agent/file-write", [("file", path), ("content", Data(chunks[0]).base64EncodedString()), ("encode", "0")])
            return
        }
        let parts = chunks.indices.map { "\(path).phoenix-part-\($0)" }
        // The parts exist first, readable by root alone: the agent fills an existing file without
        // changing its mode, and a part of a key must not be readable by others even for a moment.
        let prepared = try await agentExec(
            guest, ["sh", "-c", #"umask 077 && for f do : > "$f" || exit 1; done"#, "phoenix-prepare"] + parts, timeout: timeout)
        guard prepared.exitCode == 0 else {
            throw ProxmoxError(call: "preparing \(path) in VM \(guest.vmid)", kind: .taskFailed("exit \(prepared.exitCode)"), message: prepared.stderr)
        }
        for (part, chunk) in zip(parts, chunks) {
            _ = try await post("\(guest.path)/agent/file-write", [("file", part), ("content", Data(chunk).base64EncodedString()), ("encode", "0")])
        }
        // A fixed script: the paths reach it only as arguments.
        let joined = try await agentExec(
            guest, ["sh", "-c", #"out=$1; shift; cat -- "$@" > "$out" && rm -f -- "$@""#, "phoenix-join", path] + parts, timeout: timeout)
        guard joined.exitCode == 0 else {
            throw ProxmoxError(call: "joining \(path) in VM \(guest.vmid)", kind: .taskFailed("exit \(joined.exitCode)"), message: joined.stderr)
        }
    }
}
