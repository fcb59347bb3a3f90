/// How a stack is deployed: `docker stack deploy` (the CLI does the compose-to-services
/// translation). A seam so the deploy can be counted and, where no CLI runs, stood in for:
/// PhoenixServices' `CLIStackDeployer` is the live adapter; PhoenixTesting's `FakeDockerEngine`
/// deploys into its Swarm in memory.
public protocol StackDeployer: Sendable {
    /// Deploys `compose` (text) as stack `namespace`; `prune` removes services the file no longer has.
    func deploy(namespace: String, compose: String, prune: Bool) async -> CommandResult
}
