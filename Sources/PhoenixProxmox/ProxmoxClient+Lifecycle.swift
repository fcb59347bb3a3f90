import Foundation
import PhoenixCore

extension ProxmoxClient {
    /// The cluster's nodes that are online.
    public func onlineNodes() async throws(ProxmoxError) -> [String] {
        guard case let .array(items) = try await get("/nodes") else { return [] }
        return items.compactMap { item in
            guard case let .string(node)? = item["node"], case .string("online")? = item["status"] else { return nil }
            return node
        }.sorted()
    }

    /// Creates a guest: cloned from its template when it names one (on the template's node), else
    /// from its LXC template file or as an empty VM on `node`; then configured, tagged as phoenix's,
    /// and turned into a template when it is one. Every task is waited for.
    public func create(_ guest: Guest, from source: ProxmoxGuest?, node: String, timeout: TimeInterval) async throws(ProxmoxError) {
        let kind = guest.kind == .lxc ? "lxc" : "qemu"
        var settings = ProxmoxGuestConfig.settings(for: guest).map { ($0.key, $0.value) }
        settings.append(("tags", ProxmoxGuestConfig.tags(merging: guest.hardware.tags)))
        let path: String
        if let source {
            let call = "POST \(source.path)/clone"
            let name = settings.first { $0.0 == "hostname" || $0.0 == "name" }!
            let task = try await post("\(source.path)/clone", [("newid", String(guest.id)), (guest.kind == .lxc ? "hostname" : "name", name.1)])
            try await waitFor(task, call: call, timeout: timeout)
            path = "/nodes/\(source.node)/\(kind)/\(guest.id)"
            _ = try await put("\(path)/config", settings)
        } else {
            var parameters = [("vmid", String(guest.id))] + settings
            if guest.kind == .lxc {
                guard let template = guest.hardware.templateFile else {
                    throw ProxmoxError(
                        call: "create \(guest.id)", kind: .refused,
                        message:
                            "container \(guest.id) names neither clone_from_ctid nor template: there is nothing to create it from (no request was sent; phoenix validate warns about it)"
                    )
                }
                parameters.append(("ostemplate", template))
                if let pool = guest.hardware.storagePool { parameters.append(("rootfs", "\(pool):\(guest.hardware.diskGB ?? 8)")) }
            } else if let pool = guest.hardware.storagePool {
                // An empty VM gets its disk on the storage pool (vm_defaults fill in what the entry does not set).
                parameters.append(("scsi0", "\(pool):\(guest.hardware.diskGB ?? 32)"))
            }
            let task = try await post("/nodes/\(node)/\(kind)", parameters)
            try await waitFor(task, call: "POST /nodes/\(node)/\(kind)", timeout: timeout)
            path = "/nodes/\(node)/\(kind)/\(guest.id)"
        }
        if guest.isTemplate {
            let task = try await post("\(path)/template")
            try await waitFor(task, call: "POST \(path)/template", timeout: timeout)
        }
    }

    /// Deletes a guest (stopping it first) and waits for the task.
    public func destroy(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError) {
        if guest.status == "running" { try await setPower(guest, to: "stop", timeout: timeout) }
        let task = try await delete(guest.path, query: [("purge", "1")])
        try await waitFor(task, call: "DELETE \(guest.path)", timeout: timeout)
    }

    /// Waits for `task` when the call answered with a task id (some answer null when done at once).
    func waitFor(_ task: JSONValue, call: String, timeout: TimeInterval) async throws(ProxmoxError) {
        guard case let .string(upid) = task, upid.hasPrefix("UPID:") else { return }
        try await wait(forTask: upid, call: call, timeout: timeout)
    }
}
