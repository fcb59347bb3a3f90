import Foundation
import PhoenixCore

/// A guest as `/cluster/resources` reports it.
public struct ProxmoxGuest: Sendable, Equatable {
    public enum Kind: String, Sendable { case lxc, qemu }

    public let vmid: Int
    public let kind: Kind
    public let node: String
    public let name: String
    public let status: String
    public let template: Bool
    public let tags: [String]
    /// What /cluster/resources says of its configuration: cores (`maxcpu`) and memory (`maxmem`).
    public var maxCPU: Int = 0
    public var maxMemory: Int = 0

    /// What the bulk read shows of the guest's configuration, as one string (power state left out).
    /// When it is what it was right after the last converge, only settings the bulk read does not
    /// show (network, start at boot) could have been changed by hand.
    public var observed: String {
        "\(kind.rawValue) node=\(node) name=\(name) template=\(template) tags=\(tags.sorted().joined(separator: ";")) maxcpu=\(maxCPU) maxmem=\(maxMemory)"
    }

    /// The API path of this guest: `/nodes/pve1/lxc/101`.
    public var path: String { "/nodes/\(node)/\(kind.rawValue)/\(vmid)" }
}

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

    /// Every guest of the cluster in one call, by VMID.
    public func guestsByID() async throws(ProxmoxError) -> [Int: ProxmoxGuest] {
        Dictionary(try await guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
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
