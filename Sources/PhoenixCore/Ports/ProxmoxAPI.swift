import Foundation

/// The Proxmox VE API as phoenix's services use it: the cluster's guests in one bulk read, each
/// guest's settings compared, changed, put back and rebooted, the firewall's rule sets compared and
/// edited, guests created, powered and deleted, and commands and files in a VM through its guest
/// agent. PhoenixProxmox's `ProxmoxClient` is the live adapter; PhoenixTesting's `FakeProxmox`
/// holds a cluster in memory.
public protocol ProxmoxAPI: Sendable {
    /// Every guest of the cluster in one call (`/cluster/resources`), by VMID.
    func guests() async throws(ProxmoxError) -> [ProxmoxGuest]

    /// Reads these guests' configurations (at once) and compares each with what its entry asks for.
    func configPlans(for guests: [(Guest, ProxmoxGuest)]) async throws(ProxmoxError) -> [GuestConfigPlan]
    /// Applies a plan in one change; returns the settings that wait for a reboot (a running guest
    /// takes some only then).
    func apply(_ plan: GuestConfigPlan) async throws(ProxmoxError) -> [String]
    /// Which of `keys` the guest holds as pending: set, but taken only at its next reboot.
    func pendingSettings(_ guest: ProxmoxGuest, among keys: [String]) async throws(ProxmoxError) -> [String]
    /// Puts back the values a plan replaced: the previous value of each changed key; keys that were
    /// unset before are deleted again.
    func restore(_ plan: GuestConfigPlan) async throws(ProxmoxError)
    /// Reboots a guest and waits until it is done.
    func reboot(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError)

    /// Compares a scope's rules and options (`base`: `/cluster/firewall`, `<guest path>/firewall`)
    /// with `apiRules`, phoenix's rules as the API lists them. `readingOptions` false reads the rules
    /// alone (a check after a change that set no option).
    func firewallPlan(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)], readingOptions: Bool
    ) async throws(ProxmoxError) -> FirewallScopePlan
    /// Applies a scope's plan: options, then the rule edits in order.
    func apply(_ plan: FirewallScopePlan) async throws(ProxmoxError)

    /// The cluster's nodes that are online.
    func onlineNodes() async throws(ProxmoxError) -> [String]
    /// Creates a guest: cloned from `source` when given, else from its template file or empty on
    /// `node`; configured, tagged as phoenix's, made a template when it is one.
    func create(_ guest: Guest, from source: ProxmoxGuest?, node: String, timeout: TimeInterval) async throws(ProxmoxError)
    /// Deletes a guest (stopping it first).
    func destroy(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError)
    /// Starts (`start`) or stops (`stop`) a guest and waits until it is done.
    func setPower(_ guest: ProxmoxGuest, to state: String, timeout: TimeInterval) async throws(ProxmoxError)

    /// Runs argv in a VM through its guest agent; a command still running at `timeout` is a failure.
    func agentExec(_ guest: ProxmoxGuest, _ argv: [String], timeout: TimeInterval) async throws(ProxmoxError) -> AgentResult
    /// Writes a file in a VM through its guest agent, the contents in the API body only.
    func agentWriteFile(_ guest: ProxmoxGuest, path: String, contents: [UInt8], timeout: TimeInterval) async throws(ProxmoxError)

    /// This API with its calls also counted in `counter` (one step's, one kind's).
    func counting(into counter: CallCounter) -> any ProxmoxAPI
    /// Ends its connections (a view made by `counting(into:)` leaves them to its parent).
    func shutdown() async
}

extension ProxmoxAPI {
    /// Every guest of the cluster in one call, by VMID.
    public func guestsByID() async throws(ProxmoxError) -> [Int: ProxmoxGuest] {
        Dictionary(try await guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Compares a scope's rules and options with the configuration's rules.
    public func firewallPlan(
        name: String, base: String, rules: [FirewallRule], options: [(key: String, value: String)]
    ) async throws(ProxmoxError) -> FirewallScopePlan {
        try await firewallPlan(name: name, base: base, apiRules: rules.map(APIRule.init), options: options, readingOptions: true)
    }

    /// Compares a scope's rules and options with `apiRules`, the options read too.
    public func firewallPlan(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)]
    ) async throws(ProxmoxError) -> FirewallScopePlan {
        try await firewallPlan(name: name, base: base, apiRules: apiRules, options: options, readingOptions: true)
    }
}

/// Runs `body` on every item at once (reads: Proxmox serves them in parallel) and returns the
/// results in the items' order; the first failure, in that order, is thrown once all have ended.
public func inParallel<Item: Sendable, Output: Sendable>(
    _ items: [Item], _ body: @escaping @Sendable (Item) async throws(ProxmoxError) -> Output
) async throws(ProxmoxError) -> [Output] {
    let results = await withTaskGroup(of: (Int, Result<Output, ProxmoxError>).self) { group in
        for (index, item) in items.enumerated() {
            group.addTask {
                do throws(ProxmoxError) { return (index, .success(try await body(item))) } catch { return (index, .failure(error)) }
            }
        }
        var collected: [(Int, Result<Output, ProxmoxError>)] = []
        for await result in group { collected.append(result) }
        return collected.sorted { $0.0 < $1.0 }.map(\.1)
    }
    return try results.map { result throws(ProxmoxError) in try result.get() }
}
