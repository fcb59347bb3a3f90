import Foundation
import PhoenixCore
import PhoenixEngine

/// The firewall's rule sets through the Proxmox API (`--firewall-through api`) as a kind on the
/// executor: one resource per scope (`firewall:cluster`, `firewall:guest/<id>`), observed in one
/// pass, each change the smallest edit of phoenix's own rules and the options, verified by reading
/// the scope back, undone when a call fails or the check does not hold.
public struct APIFirewallKind: ConvergentKind {
    public let rules: FirewallRules
    public let stage = SyncStage.firewall

    public init(rules: FirewallRules) { self.rules = rules }

    public var name: String { FirewallRulesKind().name }

    /// A rollback leaves the rule sets set through the API: phoenix keeps their fingerprints, not the rules.
    public func notRestored(_ ids: [String], since run: Int64) -> String {
        "the API rule sets \(ids.joined(separator: ", ")) (changed since run \(run)) stay as they are: phoenix keeps their fingerprints, not the rules"
    }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { FirewallRulesKind().nodes(in: context) }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> FirewallRules.Plan {
        var rules = self.rules
        rules.client = rules.client.counting(into: CallCounter(into: context.stats, as: .proxmoxCalls))
        do throws(ProxmoxError) { return try await rules.plan() } catch { throw Self.failure(error) }
    }

    public func plan(_ observation: FirewallRules.Plan, in context: KindContext) -> KindPlan<FirewallRules.Scope> {
        var plan = KindPlan<FirewallRules.Scope>()
        for scope in observation.scopes {
            if scope.plan.isEmpty {
                plan.unchanged.append(scope.id)
                continue
            }
            let before = Digest.sha256Hex(scope.plan.managedBefore.map(\.text).joined(separator: "\n"))
            let after = Digest.sha256Hex(scope.rules.map(\.text).joined(separator: "\n"))
            var reasons = scope.plan.options.map { ChangeReason(field: "option \($0.key)", from: $0.from, to: $0.to) }
            for edit in scope.plan.edits {
                switch edit {
                case let .delete(position, rule): reasons.append(ChangeReason("- rule \(position): \(rule.text)"))
                case let .insert(position, rule): reasons.append(ChangeReason("+ rule \(position): \(rule.text)"))
                }
            }
            plan.steps.append(
                Step(
                    resources: [scope.id], target: scope.id, action: .update, reasons: reasons, previousDigest: before, newDigest: after,
                    detail: "\(scope.plan.edits.count) rule edits, \(scope.plan.options.count) options", change: scope))
        }
        for id in observation.waiting { plan.notes.append("guest \(id): not on the cluster, its firewall waits for phoenix create") }
        return plan
    }

    public func apply(_ step: Step<FirewallRules.Scope>, prepared: Void, in context: StepContext) async throws(ResourceFailure) {
        let scope = step.change
        context.say("firewall: \(scope.id): \(scope.plan.edits.count) rule edits, \(scope.plan.options.count) options")
        do throws(ProxmoxError) { try await client(context).apply(scope.plan) } catch { throw Self.failure(error) }
    }

    public func verify(_ step: Step<FirewallRules.Scope>, applied: Void, in context: StepContext) async throws(ResourceFailure) {
        let scope = step.change
        let reread: FirewallScopePlan
        do throws(ProxmoxError) {
            reread = try await client(context).firewallPlan(
                name: scope.plan.name, base: scope.plan.base, apiRules: scope.rules, options: scope.options, readingOptions: !scope.plan.options.isEmpty)
        } catch {
            throw .refused(system: "Proxmox API", call: error.call, message: "reading the rules back failed: \(error.description)")
        }
        if !reread.isEmpty {
            throw .verificationFailed(
                check: "reading the rules back", seen: "\(reread.edits.count) edits and \(reread.options.count) options are still to make")
        }
    }

    public func restore(
        _ step: Step<FirewallRules.Scope>, applied: Void?, after failure: ResourceFailure, in context: StepContext
    ) async -> RestoreOutcome? {
        let scope = step.change
        context.say("firewall: \(scope.id): \(failure); putting the previous rules back")
        let options = scope.plan.options.compactMap { change in change.from.map { (key: change.key, value: $0) } }
        do throws(ProxmoxError) {
            let client = client(context)
            let back = try await client.firewallPlan(name: scope.plan.name, base: scope.plan.base, apiRules: scope.plan.managedBefore, options: options)
            try await client.apply(back)
        } catch {
            return .failed(attempt: "putting the previous rules back", reason: error.description)
        }
        return .restored("the previous rules are back")
    }

    /// The client, counting this step's calls into its stats.
    func client(_ context: StepContext) -> any ProxmoxAPI { rules.client.counting(into: CallCounter(into: context.stats, as: .proxmoxCalls)) }

    static func failure(_ error: ProxmoxError) -> ResourceFailure { .refused(system: "Proxmox API", call: error.call, message: error.description) }

    /// The execution as the firewall's printers show it: every scope, how it ended, its calls.
    public static func report(_ execution: KindExecution<APIFirewallKind>, synced: Bool) -> any KindReport {
        guard var plan = execution.observation else {
            return FirewallReport(plan: nil, failure: execution.failure, results: execution.results)
        }
        let results = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        for index in plan.scopes.indices {
            guard let result = results[plan.scopes[index].id] else { continue }
            if let error = result.failure {
                if case .blocked = error.failure { plan.scopes[index].blocked = error.description } else { plan.scopes[index].failure = error.description }
            }
            plan.scopes[index].calls = result.calls
            plan.scopes[index].seconds = result.seconds
        }
        return FirewallReport(plan: plan, results: execution.results, synced: synced)
    }
}
