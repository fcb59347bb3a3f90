import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine

/// `--prune`: what phoenix deployed that the configuration no longer lists is removed.
public enum PruneStacks: KindOption {
    public static let defaultValue = false
}

/// What the swarm, Portainer and stacks kinds of one run share: the Swarm's members, the secret
/// versions (their certificate-fed values read once from what is installed), and the deployer
/// pointed at the manager.
struct SwarmSetup: Sendable {
    let desired: SwarmDesired
    let connections: SwarmConnections
    let swarm: SwarmConvergence
    /// The stacks' deployments (nil with why, when the manager's endpoint is not usable).
    let stacks: Result<StackDeployments, DockerError>

    /// Made once per run, by the first of the three kinds that asks; nil without a manager or
    /// without the Swarm's connections.
    static func shared(_ environment: KindEnvironment) async -> SwarmSetup? {
        guard let connections = environment.swarm else { return nil }
        return await environment.shared.value("swarm") { () -> SwarmSetup? in
            let estate = environment.estate
            let desired = SwarmDesired(estate: estate)
            guard let manager = desired.manager else { return nil }
            // The Swarm secrets fed by certificates: what is installed now (the certs kind updates it).
            if let machines = environment.machines?() { await CertConvergence.prefill(environment.feed, estate: estate, host: machines.host) }
            let swarm = SwarmConvergence(
                estate: estate, connections: connections, secrets: SecretVersions(estate: estate, desired: desired, feed: environment.feed))
            let stacks: Result<StackDeployments, DockerError>
            do throws(DockerError) {
                let deployer = CLIStackDeployer(
                    cli: estate.settings.docker.cli, endpoint: try connections.endpoint(manager), resolveImage: estate.settings.docker.resolveImage)
                var deployments = StackDeployments(estate: estate, connections: connections, deployer: deployer, secrets: swarm.secrets)
                deployments.prune = environment.options[PruneStacks.self]
                stacks = .success(deployments)
            } catch {
                stacks = .failure(error)
            }
            return SwarmSetup(desired: desired, connections: connections, swarm: swarm, stacks: stacks)
        }
    }

    static let noManager = "no VM has swarm_role manager: there is no Swarm to converge"
}

extension SwarmConvergence {
    /// The Swarm's nodes, networks and secrets take part when `swarm` is asked and a VM is its manager.
    public static let registration = KindRegistration(kind: SwarmKind()) { environment in
        guard environment.asks(.swarm) else { return .none }
        guard let setup = await SwarmSetup.shared(environment) else { return KindSetup(notApplied: [(.swarm, SwarmSetup.noManager)]) }
        // Every resource at once but the workers, which the graph orders after the manager.
        return KindSetup(runner: setup.swarm.runner(executor: environment.executor(limits: ExecutionLimits(parallelism: max(8, environment.parallelism)))))
    }
}

extension PortainerServices {
    /// Portainer takes part in `services` when the primary VM lists its stack or a VM runs an agent.
    public static let registration = KindRegistration(kind: PortainerKind()) { environment in
        guard environment.asks(.services) else { return .none }
        let desired = SwarmDesired(estate: environment.estate)
        guard desired.manager != nil, desired.stacks.contains(where: { $0.stage == .services }) || !desired.agentVMs.isEmpty,
            let setup = await SwarmSetup.shared(environment), case let .success(server) = setup.stacks
        else { return .none }
        let kind = PortainerServices(server: server, agent: PortainerAgent(estate: environment.estate, connections: setup.connections))
        return KindSetup(runner: kind.runner(executor: environment.executor(), connections: setup.connections))
    }
}

extension StacksKind {
    /// The stacks take part when `stacks` is asked and a VM is the Swarm's manager; once they moved
    /// to new secret versions the Swarm prunes the old ones.
    public static let registration = KindRegistration(kind: StackKind()) { environment in
        guard environment.asks(.stacks) else { return .none }
        guard let setup = await SwarmSetup.shared(environment) else { return KindSetup(notApplied: [(.stacks, SwarmSetup.noManager)]) }
        switch setup.stacks {
        case let .failure(error): return KindSetup(notApplied: [(.stacks, error.description)])
        case let .success(deployments):
            let kind = StacksKind(deployments: deployments, pruningWith: setup.swarm)
            return KindSetup(runner: kind.runner(executor: environment.executor(), connections: setup.connections))
        }
    }
}
