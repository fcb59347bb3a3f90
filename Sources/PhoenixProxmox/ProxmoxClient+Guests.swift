import Foundation
import PhoenixCore

extension ProxmoxClient {
    /// Every guest of the cluster in one call.
    public func guests() async throws(ProxmoxError) -> [ProxmoxGuest] {
        let data = try await get("/cluster/resources", query: [("type", "vm")])
        guard case let .array(items) = data else { throw ProxmoxError(call: "GET /cluster/resources", kind: .malformed, message: "no list of guests") }
        return items.compactMap { item in
            guard case let .number(vmid)? = item["vmid"], case let .string(type)? = item["type"], let kind = ProxmoxGuest.Kind(rawValue: type),
                case let .string(node)? = item["node"]
            else { return nil }
            let name: String = if case let .string(text)? = item["name"] { text } else { "" }
            let status: String = if case let .string(text)? = item["status"] { text } else { "unknown" }
            let template: Bool =
                switch item["template"] {
                case .number(1)?, .bool(true)?: true;
                default: false
                }
            let tags: [String] =
                if case let .string(text)? = item["tags"] { text.split(whereSeparator: { $0 == ";" || $0 == "," }).map(String.init) } else { [] }
            var guest = ProxmoxGuest(vmid: Int(vmid), kind: kind, node: node, name: name, status: status, template: template, tags: tags)
            if case let .number(cpus)? = item["maxcpu"] { guest.maxCPU = Int(cpus) }
            if case let .number(bytes)? = item["maxmem"] { guest.maxMemory = Int(bytes) }
            return guest
        }.sorted { $0.vmid < $1.vmid }
    }

    /// Waits for a task to end; a task that ends in anything but `OK` is a failure with its exit status.
    public func wait(forTask upid: String, call: String, timeout: TimeInterval) async throws(ProxmoxError) {
        // UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:
        let parts = upid.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count > 2, parts[0] == "UPID" else { throw ProxmoxError(call: call, kind: .malformed, message: "not a task id: \(upid)") }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let path = "/nodes/\(parts[1])/tasks/\(upid.addingPercentEncoding(withAllowedCharacters: allowed) ?? upid)/status"
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt64 = 100_000_000
        while true {
            let status = try await get(path)
            if case .string("stopped")? = status["status"] {
                if case .string("OK")? = status["exitstatus"] { return }
                let exit: String = if case let .string(text)? = status["exitstatus"] { text } else { "no exit status" }
                throw ProxmoxError(call: call, kind: .taskFailed(exit), message: exit)
            }
            if Date() >= deadline { throw ProxmoxError(call: call, kind: .timeout, message: "task \(upid) still running after \(Int(timeout)) s") }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 2_000_000_000)
        }
    }

    /// Starts or stops a guest and waits for its task.
    public func setPower(_ guest: ProxmoxGuest, to state: String, timeout: TimeInterval) async throws(ProxmoxError) {
        let call = "POST \(guest.path)/status/\(state)"
        let upid = try await post("\(guest.path)/status/\(state)")
        guard case let .string(id) = upid else { throw ProxmoxError(call: call, kind: .malformed, message: "no task id") }
        try await wait(forTask: id, call: call, timeout: timeout)
    }
}
