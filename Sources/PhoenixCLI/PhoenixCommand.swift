import ArgumentParser
import PhoenixEngine

/// The root command: `phoenix`.
public struct PhoenixCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "phoenix",
        abstract: "Converge a Proxmox VE estate to what its version-controlled JSON declares.",
        discussion: """
            Reads the configuration files of the Phoenix Hypervisor project as they are. Exit codes: 0 success, \
            1 failure, 2 changes pending or drift found (where asked), 64 usage error, 65 invalid configuration.
            """,
        version: "0.1.0",
        subcommands: [
            ValidateCommand.self, GraphCommand.self, RenderCommand.self, PlanCommand.self, SyncCommand.self, DriftCommand.self, HistoryCommand.self,
            RollbackCommand.self, StatusCommand.self, StartCommand.self, StopCommand.self,
            RestartCommand.self, CreateCommand.self, DeleteCommand.self, ConvergeCommand.self, LetsGoCommand.self,
            FirewallCommand.self, SwarmCommand.self, StacksCommand.self, CertsCommand.self, AgentCommand.self, StateCommand.self,
        ]
    )

    public init() {}

    /// The entry point: ArgumentParser's asynchronous `main` (a plain `PhoenixCommand.main()` would pick
    /// the synchronous overload, which cannot run the API commands). Ctrl-C reaches the programs
    /// phoenix runs too (they run in process groups of their own).
    public static func start() async {
        // The agent handles its own signals: SIGTERM and SIGINT stop it gracefully, SIGHUP reloads.
        let forwarding = CommandLine.arguments.dropFirst().first == "agent" ? [] : TerminalSignals.forwardToChildren()
        let command: any AsyncParsableCommand.Type = PhoenixCommand.self
        await command.main()
        withExtendedLifetime(forwarding) {}
    }
}
