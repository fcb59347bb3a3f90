import Foundation
import PhoenixCore

/// The Proxmox VE API in memory, for the fast tests (no Proxmox runs here, and fakepve is the
/// integration tests' stand-in): a cluster of guests with their settings and the firewall's rule
/// sets. It can refuse a guest's change as Proxmox refuses a parameter, keep a setting from taking
/// (the change is answered, the value stays), be unreachable, and hold a call until the test lets
/// it go. It counts a round trip for each request the live client sends for the same call (task
/// polls left out) and records every change, named as the live client's request.
public final class FakeProxmox: ProxmoxAPI {
    /// One guest: what the bulk read shows follows its settings (name, tags, cores, memory).
    public struct Guest: Sendable {
        public var vmid: Int
        public var kind: ProxmoxGuest.Kind
        public var status: String
        public var template = false
        public var config: [String: String]
        /// Settings set while it runs that wait for its next reboot.
        public var pending: [String: String] = [:]
    }

    /// A firewall scope (`/cluster/firewall`, `<guest path>/firewall`): its rules and options.
    public struct Scope: Sendable {
        public var rules: [APIRule] = []
        public var options: [String: String] = [:]
    }

    public struct State: Sendable {
        public var guests: [Int: Guest] = [:]
        public var scopes: [String: Scope] = [:]
        /// Guests whose changes Proxmox refuses, with the parameter and why.
        public var refusing: [Int: (parameter: String, message: String)] = [:]
        /// Settings of a guest that a change does not take.
        public var notTaking: [Int: Set<String>] = [:]
        /// Settings a running guest takes only at its next reboot.
        public var atReboot: Set<String> = []
        public var unreachable = false
        /// Every change made, in order, named as the request (`PUT /nodes/pve/lxc/101/config`).
        public var changes: [String] = []
        public var calls = 0
    }

    public let node: String
    public let world: Guarded<State>
    let alsoCounting: CallCounter?

    public init(node: String = "pve") {
        self.node = node
        world = Guarded(State())
        alsoCounting = nil
    }

    private init(viewOf base: FakeProxmox, alsoCounting: CallCounter) {
        node = base.node
        world = base.world
        self.alsoCounting = alsoCounting
    }

    // MARK: What tests do to it

    /// Puts a guest on the cluster with these settings (`hostname` or `name`, `cores`, `memory`, …).
    public func addGuest(_ vmid: Int, kind: ProxmoxGuest.Kind = .lxc, status: String = "running", config: [String: String]) {
        world.withLock { $0.guests[vmid] = Guest(vmid: vmid, kind: kind, status: status, config: config) }
    }

    public func config(of vmid: Int) -> [String: String]? { world.value.guests[vmid]?.config }
    public func rules(at base: String) -> [APIRule] { world.value.scopes[base]?.rules ?? [] }
    public func options(at base: String) -> [String: String] { world.value.scopes[base]?.options ?? [:] }
    public var changes: [String] { world.value.changes }
    public var calls: Int { world.value.calls }

    /// The path of a guest's firewall scope.
    public func firewallBase(of vmid: Int) -> String {
        let kind = world.value.guests[vmid]?.kind ?? .lxc
        return "/nodes/\(node)/\(kind.rawValue)/\(vmid)/firewall"
    }

    /// The path of a guest's configuration, as a change is named.
    public func configPath(of vmid: Int) -> String {
        let kind = world.value.guests[vmid]?.kind ?? .lxc
        return "/nodes/\(node)/\(kind.rawValue)/\(vmid)/config"
    }

    /// Changes a setting behind phoenix's back (nil removes it).
    public func editByHand(_ vmid: Int, _ key: String, _ value: String?) {
        world.withLock { state in
            guard state.guests[vmid] != nil else { return }
            state.guests[vmid]?.config[key] = value
        }
    }

    /// Sets a scope's rules and options behind phoenix's back.
    public func setFirewall(_ base: String, rules: [APIRule], options: [String: String] = [:]) {
        world.withLock { $0.scopes[base] = Scope(rules: rules, options: options) }
    }

    /// Proxmox refuses every change of `vmid`, naming `parameter` (HTTP 400 with its errors).
    public func refuse(_ vmid: Int, parameter: String, message: String) { world.withLock { $0.refusing[vmid] = (parameter, message) } }

    /// A change of `key` on `vmid` is answered, and the value stays as it was.
    public func dropSetting(_ key: String, of vmid: Int) { world.withLock { $0.notTaking[vmid, default: []].insert(key) } }

    public func setUnreachable(_ unreachable: Bool) { world.withLock { $0.unreachable = unreachable } }

    /// Requests named `call` (`PUT /nodes/pve/lxc/101/config`) wait until `release(call)`.
    public func hold(_ call: String) { world.hold(call) }
    public func release(_ call: String) { world.release(call) }

    /// Returns once `condition` holds of the changes made and the calls held.
    public func wait(until condition: @escaping @Sendable (_ changes: [String], _ parked: [String: Int]) -> Bool) async {
        await world.wait { condition($0.state.changes, $0.parked) }
    }

    // MARK: The port

    /// One round trip: counted (here and in the view's counter), refused when unreachable.
    private func request(_ call: String) throws(ProxmoxError) {
        alsoCounting?.count()
        let unreachable = world.withLock { state in
            state.calls += 1
            return state.unreachable
        }
        if unreachable { throw ProxmoxError(call: call, kind: .unreachable, message: "connection refused") }
    }

    private func guest(_ vmid: Int, call: String) throws(ProxmoxError) -> Guest {
        guard let guest = world.value.guests[vmid] else {
            throw ProxmoxError(call: call, kind: .server(status: 500), message: "Configuration file 'nodes/\(node)/\(vmid).conf' does not exist")
        }
        return guest
    }

    private func resource(_ guest: Guest) -> ProxmoxGuest {
        let name = guest.config[guest.kind == .lxc ? "hostname" : "name"] ?? ""
        return ProxmoxGuest(
            vmid: guest.vmid, kind: guest.kind, node: node, name: name, status: guest.status, template: guest.template,
            tags: ProxmoxGuestConfig.splitTags(guest.config["tags"] ?? ""), maxCPU: Int(guest.config["cores"] ?? "") ?? 0,
            maxMemory: (Int(guest.config["memory"] ?? "") ?? 0) * 1024 * 1024)
    }

    public func guests() async throws(ProxmoxError) -> [ProxmoxGuest] {
        try request("GET /cluster/resources")
        return world.value.guests.values.map(resource).sorted { $0.vmid < $1.vmid }
    }

    public func configPlans(for guests: [(PhoenixCore.Guest, ProxmoxGuest)]) async throws(ProxmoxError) -> [GuestConfigPlan] {
        var plans: [GuestConfigPlan] = []
        for (entry, actual) in guests {
            try request("GET \(actual.path)/config")
            plans.append(GuestConfigPlan(entry, actual: actual, config: try guest(actual.vmid, call: "GET \(actual.path)/config").config))
        }
        return plans
    }

    public func apply(_ plan: GuestConfigPlan) async throws(ProxmoxError) -> [String] {
        guard !plan.changes.isEmpty else { return [] }
        let call = "PUT \(plan.guest.path)/config"
        try request(call)
        await world.pass(call)
        let waiting = try world.withLock { state throws(ProxmoxError) -> [String] in
            guard var guest = state.guests[plan.guest.vmid] else {
                throw ProxmoxError(call: call, kind: .server(status: 500), message: "guest \(plan.guest.vmid) does not exist")
            }
            if let (parameter, message) = state.refusing[guest.vmid] {
                throw ProxmoxError(call: call, kind: .invalidParameters([parameter: message]), message: "Parameter verification failed.")
            }
            var waiting: [String] = []
            for change in plan.changes where !(state.notTaking[guest.vmid]?.contains(change.key) ?? false) {
                if guest.status == "running" && state.atReboot.contains(change.key) {
                    guest.pending[change.key] = change.to
                    waiting.append(change.key)
                } else {
                    guest.config[change.key] = change.to
                }
            }
            state.guests[guest.vmid] = guest
            state.changes.append(call)
            return waiting.sorted()
        }
        guard plan.guest.status == "running" else { return [] }
        try request("GET \(plan.guest.path)/pending")
        return waiting
    }

    public func pendingSettings(_ guest: ProxmoxGuest, among keys: [String]) async throws(ProxmoxError) -> [String] {
        try request("GET \(guest.path)/pending")
        let pending = try self.guest(guest.vmid, call: "GET \(guest.path)/pending").pending
        return keys.filter { pending[$0] != nil }.sorted()
    }

    public func restore(_ plan: GuestConfigPlan) async throws(ProxmoxError) {
        guard !plan.changes.isEmpty else { return }
        let call = "PUT \(plan.guest.path)/config (restoring)"
        try request(call)
        try world.withLock { state throws(ProxmoxError) in
            guard var guest = state.guests[plan.guest.vmid] else {
                throw ProxmoxError(call: call, kind: .server(status: 500), message: "guest \(plan.guest.vmid) does not exist")
            }
            for change in plan.changes {
                guest.config[change.key] = change.from
                guest.pending[change.key] = nil
            }
            state.guests[guest.vmid] = guest
            state.changes.append(call)
        }
    }

    public func reboot(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError) {
        let call = "POST \(guest.path)/status/reboot"
        try request(call)
        world.withLock { state in
            guard var found = state.guests[guest.vmid] else { return }
            found.config.merge(found.pending) { _, new in new }
            found.pending = [:]
            state.guests[guest.vmid] = found
            state.changes.append(call)
        }
    }

    public func firewallPlan(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)], readingOptions: Bool
    ) async throws(ProxmoxError) -> FirewallScopePlan {
        try request("GET \(base)/rules")
        if readingOptions { try request("GET \(base)/options") }
        let scope = world.value.scopes[base] ?? Scope()
        return FirewallScopePlan(
            name: name, base: base, apiRules: apiRules, options: options, rules: scope.rules, current: readingOptions ? scope.options : nil)
    }

    public func apply(_ plan: FirewallScopePlan) async throws(ProxmoxError) {
        if !plan.options.isEmpty {
            let call = "PUT \(plan.base)/options"
            try request(call)
            await world.pass(call)
            world.withLock { state in
                for change in plan.options { state.scopes[plan.base, default: Scope()].options[change.key] = change.to }
                state.changes.append(call)
            }
        }
        for edit in plan.edits {
            switch edit {
            case let .delete(position, _):
                let call = "DELETE \(plan.base)/rules/\(position)"
                try request(call)
                await world.pass(call)
                try world.withLock { state throws(ProxmoxError) in
                    guard position < state.scopes[plan.base, default: Scope()].rules.count else {
                        throw ProxmoxError(call: call, kind: .server(status: 500), message: "no rule at position \(position)")
                    }
                    state.scopes[plan.base, default: Scope()].rules.remove(at: position)
                    state.changes.append(call)
                }
            case let .insert(position, rule):
                let call = "POST \(plan.base)/rules"
                try request(call)
                if position > 0 { try request("PUT \(plan.base)/rules/0") }
                await world.pass(call)
                world.withLock { state in
                    var rules = state.scopes[plan.base, default: Scope()].rules
                    rules.insert(rule, at: min(position, rules.count))
                    state.scopes[plan.base, default: Scope()].rules = rules
                    state.changes.append(call)
                }
            }
        }
    }

    public func onlineNodes() async throws(ProxmoxError) -> [String] {
        try request("GET /nodes")
        return [node]
    }

    public func create(_ guest: PhoenixCore.Guest, from source: ProxmoxGuest?, node: String, timeout: TimeInterval) async throws(ProxmoxError) {
        let kind: ProxmoxGuest.Kind = guest.kind == .lxc ? .lxc : .qemu
        let call = source.map { "POST \($0.path)/clone" } ?? "POST /nodes/\(node)/\(kind.rawValue)"
        try request(call)
        var config = Dictionary(ProxmoxGuestConfig.settings(for: guest).map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        config["tags"] = ProxmoxGuestConfig.tags(merging: guest.hardware.tags)
        try world.withLock { state throws(ProxmoxError) in
            guard state.guests[guest.id] == nil else { throw ProxmoxError(call: call, kind: .server(status: 500), message: "VM \(guest.id) already exists") }
            state.guests[guest.id] = Guest(vmid: guest.id, kind: kind, status: "stopped", template: guest.isTemplate, config: config)
            state.changes.append(call)
        }
    }

    public func destroy(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError) {
        try request("DELETE \(guest.path)")
        world.withLock { state in
            state.guests[guest.vmid] = nil
            state.changes.append("DELETE \(guest.path)")
        }
    }

    public func setPower(_ guest: ProxmoxGuest, to state: String, timeout: TimeInterval) async throws(ProxmoxError) {
        let call = "POST \(guest.path)/status/\(state)"
        try request(call)
        world.withLock { world in
            world.guests[guest.vmid]?.status = state == "start" ? "running" : "stopped"
            world.changes.append(call)
        }
    }

    public func agentExec(_ guest: ProxmoxGuest, _ argv: [String], timeout: TimeInterval) async throws(ProxmoxError) -> AgentResult {
        let call = "POST \(guest.path)/agent/exec (\(argv.first ?? ""))"
        try request(call)
        throw ProxmoxError(call: call, kind: .server(status: 500), message: "QEMU guest agent is not running (this fake has none)")
    }

    public func agentWriteFile(_ guest: ProxmoxGuest, path: String, contents: [UInt8], timeout: TimeInterval) async throws(ProxmoxError) {
        let call = "POST \(guest.path)/agent/file-write"
        try request(call)
        throw ProxmoxError(call: call, kind: .server(status: 500), message: "QEMU guest agent is not running (this fake has none)")
    }

    public func counting(into counter: CallCounter) -> any ProxmoxAPI { FakeProxmox(viewOf: self, alsoCounting: counter) }

    public func shutdown() async {}
}
