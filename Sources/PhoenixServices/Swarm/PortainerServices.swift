import Foundation
import PhoenixCore
import PhoenixEngine

/// Portainer (`services`) as a kind on the executor: the server as the stack the primary VM lists
/// (`portainer:server`, deployed and rolled back like any stack) and the agent as one global Swarm
/// service (`portainer:agent`, created once, updated only when its spec changes, Docker's own
/// rollback when an update does not converge).
public struct PortainerServices: ConvergentKind {
    public var server: StackDeployments
    public var agent: PortainerAgent

    public init(server: StackDeployments, agent: PortainerAgent) {
        self.server = server
        self.server.stage = .services
        self.agent = agent
    }

    public var name: String { PortainerKind().name }

    /// A rollback leaves what the Swarm runs (`SwarmConvergence.leftByRollback`).
    public func notRestored(_ ids: [String], since run: Int64) -> String { SwarmConvergence.leftByRollback(ids, since: run) }
    public let stage = SyncStage.services
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { PortainerKind().nodes(in: context) }

    public struct Observation: Sendable {
        let server: StackDeployments.Observed
        /// The agent's change (nil: no VM runs an agent), and the service as it is now.
        let agent: StackDeployments.Item?
        let agentService: SwarmService?
    }

    public enum Change: Sendable {
        case server(StackDeployments.StackChange)
        case agent(StackDeployments.Item, existing: SwarmService?)
    }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        let counted = counting(into: context.stats)
        guard let manager = counted.server.desired.manager else {
            return Observation(server: .init(items: [], records: [:], blocked: nil), agent: nil, agentService: nil)
        }
        let observed = try await counted.server.observeStacks(in: context)
        guard !counted.agent.desired.agentVMs.isEmpty else { return Observation(server: observed, agent: nil, agentService: nil) }
        do throws(DockerError) {
            let client = try await counted.agent.connections.client(manager)
            let info = try await client.info()
            guard info.swarmState == "active" else { return Observation(server: observed, agent: counted.agent.item(services: []), agentService: nil) }
            let services = try await client.services()
            return Observation(
                server: observed, agent: counted.agent.item(services: services), agentService: services.first { $0.name == PortainerAgent.serviceName })
        } catch {
            var item = StackDeployments.Item(id: PortainerKind.agentID, namespace: PortainerAgent.serviceName, action: .none, reasons: [])
            item.problem = SwarmConvergence.failure(error)
            item.outcome = .failed
            return Observation(server: observed, agent: item, agentService: nil)
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Change> {
        let stacks = server.planStacks(observation.server)
        var plan = KindPlan<Change>(
            steps: stacks.steps.map { step in
                Step(
                    resources: step.resources, target: step.target, action: step.action, reasons: step.reasons, previousDigest: step.previousDigest,
                    newDigest: step.newDigest, detail: step.detail, change: .server(step.change))
            }, unchanged: stacks.unchanged, failed: stacks.failed)
        if let item = observation.agent {
            if let failure = item.failure {
                plan.failed[item.id] = item.problem ?? .bug("an unplannable Portainer agent without its reason: \(failure)")
            } else if item.action == .none {
                plan.unchanged.append(item.id)
            } else {
                plan.steps.append(
                    Step(
                        resources: [item.id], target: item.id, action: observation.agentService == nil ? .create : .update,
                        reasons: item.reasons.map(ChangeReason.init), newDigest: item.specHash, detail: item.reasons.joined(separator: "; "),
                        change: .agent(item, existing: observation.agentService)))
            }
        }
        return plan
    }

    public func prepare(_ step: Step<Change>, in context: StepContext) async throws(ResourceFailure) -> Set<String> {
        guard case let .server(change) = step.change else { return [] }
        return try await counting(into: context.stats).server.prepareStack(step.with(change))
    }

    public func apply(_ step: Step<Change>, prepared before: Set<String>, in context: StepContext) async throws(ResourceFailure) -> Set<String> {
        let counted = counting(into: context.stats)
        switch step.change {
        case let .server(change): return try await counted.server.applyStack(step.with(change), before: before, in: context)
        case let .agent(_, existing):
            guard let manager = counted.agent.desired.manager else { throw .bug("no Swarm manager for the Portainer agent") }
            let (spec, _) = counted.agent.spec()
            context.stats.count(.deploys)
            do throws(DockerError) {
                let client = try await counted.agent.connections.client(manager)
                if let existing { try await client.updateService(existing, spec: spec) } else { try await client.createService(spec: spec) }
            } catch {
                throw SwarmConvergence.failure(error)
            }
            return []
        }
    }

    public func verify(_ step: Step<Change>, applied: Set<String>, in context: StepContext) async throws(ResourceFailure) {
        let counted = counting(into: context.stats)
        switch step.change {
        case let .server(change): try await counted.server.verifyStack(step.with(change), known: applied)
        case .agent:
            guard let manager = counted.agent.desired.manager else { return }
            let client: any DockerEngine
            do throws(DockerError) { client = try await counted.agent.connections.client(manager) } catch { throw SwarmConvergence.failure(error) }
            if let reason = await counted.agent.waitRunning(client) { throw .verificationFailed(check: reason, seen: "") }
        }
    }

    public func restore(_ step: Step<Change>, applied: Set<String>?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome? {
        let counted = counting(into: context.stats)
        switch step.change {
        case let .server(change): return await counted.server.restoreStack(step.with(change), known: applied, in: context)
        case let .agent(_, existing):
            // Docker keeps the previous spec of an updated service; a new one has none.
            guard existing != nil, applied != nil, let manager = counted.agent.desired.manager else { return nil }
            do throws(DockerError) {
                let client = try await counted.agent.connections.client(manager)
                guard let now = try await client.services().first(where: { $0.name == PortainerAgent.serviceName }) else { return nil }
                try await client.rollbackService(now)
                return .restored("rolled back to its previous spec")
            } catch {
                return .failed(attempt: "rolling back to its previous spec", reason: error.description)
            }
        }
    }

    public func record(_ step: Step<Change>, applied: Set<String>, in context: StepContext) async throws(ResourceFailure) {
        let counted = counting(into: context.stats)
        if case let .server(change) = step.change { try await counted.server.recordStack(step.with(change), in: context) }
    }

    /// This kind with its Engine API calls also counted in `stats` (the run's, or a step's).
    func counting(into stats: RunStats) -> PortainerServices {
        var counted = self
        counted.server = server.counting(into: stats)
        counted.agent.connections = agent.connections.counting(into: stats)
        return counted
    }

    /// The execution as Portainer's printers show it: the server's stack and the agent.
    public static func report(_ execution: KindExecution<PortainerServices>, synced: Bool, calls: Int) -> StacksReport {
        guard let observation = execution.observation else {
            return StacksReport(
                report: StackDeployments.Report(error: execution.failure?.description, calls: calls), applied: synced, kind: PortainerKind().name,
                label: "portainer", results: execution.results, failure: execution.failure)
        }
        let agentObserved = StackDeployments.Observed(items: observation.agent.map { [$0] } ?? [], records: [:], blocked: nil)
        var report = StackDeployments.Report(
            items: StackDeployments.items(observation.server, results: execution.results, synced: synced)
                + StackDeployments.items(agentObserved, results: execution.results, synced: synced), calls: calls)
        report.deploys = report.items.reduce(0) { $0 + $1.deploys }
        return StacksReport(report: report, applied: synced, kind: PortainerKind().name, label: "portainer", results: execution.results)
    }
}

extension Step {
    /// This step carrying another description of its change.
    func with<Other>(_ change: Other) -> Step<Other> {
        Step<Other>(
            resources: resources, target: target, action: action, reasons: reasons, previousDigest: previousDigest, newDigest: newDigest, detail: detail,
            change: change)
    }
}
