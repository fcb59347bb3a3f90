import ArgumentParser
import Foundation
import Logging
import PhoenixAgent
import PhoenixAgentServer
import PhoenixCore
import PhoenixHTTP
import PhoenixServices

/// `phoenix agent`: git to production by itself. `phoenix agent approve RUN` approves a run that
/// waits, through the running agent's API.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Watch a branch of the estate's repository and converge every new commit: plan, apply, report.",
        subcommands: [AgentRunCommand.self, AgentApproveCommand.self],
        defaultSubcommand: AgentRunCommand.self
    )
}

struct AgentRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent in the foreground (systemd runs it): poll and webhooks, plan, apply, report.",
        discussion: """
            Durations are written 90s, 5m, 1h (plain numbers are seconds). The agent polls once at start and applies the \
            branch head when it differs from the last commit it applied. Secrets are read from files only.
            """
    )

    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "The estate's repository (https://, ssh:// or a path; never with a password in it).") var repo: String
    @Option(name: .long, help: "The branch to converge.") var branch = "main"
    @Option(name: .long, help: "The configuration directory inside the repository.") var configPath = "etc"
    @Option(name: .long, help: "The stacks directory inside the repository.") var stacksPath = "stacks"
    @Option(name: .long, help: "The stages to converge, comma-separated (default: all).") var stages = "all"
    @Option(name: .long, help: "The agent's own work directory (default: agent/ beside a SQLite state store, else /var/lib/phoenix/agent).") var workDir:
        String?
    @Option(name: .long, help: "How often to poll the branch (with jitter).") var interval = "60s"
    @Option(name: .long, help: "How often to check drift.") var driftInterval = "10m"
    @Option(name: .long, help: "How often to check whether certificates are due.") var certificateInterval = "1h"
    @Option(
        name: .long,
        help: "With a PostgreSQL state store: how often the active agent proves it is alive, and a standby tries to take over (within two of these).")
    var heartbeat = "10s"
    @Option(name: .long, help: "Where the API listens (host:port).") var listen = "127.0.0.1:8420"
    @Option(name: .long, help: "TLS certificate chain for the API (PEM).") var tlsCert: String?
    @Option(name: .long, help: "TLS private key for the API (PEM).") var tlsKey: String?
    @Option(name: .long, help: "The webhook secret (a file); webhooks are refused without it.") var webhookSecretFile: String?
    @Option(name: .long, help: "Access tokens: lines of ROLE NAME SHA256-HEX-OF-THE-TOKEN (roles read, operate).") var tokensFile: String?
    @Flag(name: .long, help: "Let GET /metrics, GET /api/v1/... and the dashboard's pages answer without a token.") var anonymousRead = false
    @Option(name: .long, help: "How long a dashboard sign-in lasts.") var sessionMaxAge = "12h"
    @Option(name: .long, help: "The repository's API for commit statuses (https://api.github.com/repos/OWNER/REPO, …/api/v1/repos/…, …/api/v4/projects/ID).")
    var statusAPI: String?
    @Option(name: .long, help: "The token for commit statuses (a file).") var statusTokenFile: String?
    @Option(name: .long, help: "A notification target (repeatable): https://… (JSON), ntfy+https://…, gotify+https://…, slack+https://…, discord+https://….")
    var notify: [String] = []
    @Option(name: .long, help: "HTTPS: the file holding the repository token.") var gitTokenFile: String?
    @Option(name: .long, help: "HTTPS: the user name sent with the token.") var gitUsername = "phoenix"
    @Option(name: .long, help: "SSH: the deploy key.") var sshKey: String?
    @Option(name: .long, help: "SSH: the pinned known_hosts file.") var knownHosts: String?
    @Option(name: .long, help: "Check every new commit's signature: ssh or gpg.") var verifyCommits: String?
    @Option(name: .long, help: "ssh: the allowed-signers file; gpg: the public keys.") var allowedSigners: String?
    @Option(name: .long, help: "The estate's name in statuses and notifications (default: the repository's name).") var estateName: String?
    @Option(name: .long, help: "The agent's address as people reach it, for links to runs.") var publicURL: String?
    @Option(name: .long, help: "Logs on stderr: text or json.") var logFormat = "text"
    @Flag(name: .long, help: "Check the settings and reach the repository once, then exit.") var check = false

    func run() async throws {
        let settings = try AgentSettingsReader(self).read()
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: settings.logFormat) }
        let logger = Logger(label: "phoenix.agent")
        let head = try await settings.git.head(branch: branch)
        if check {
            print("ok: \(branch) is at \(head.prefix(12)); \(settings.summary)")
            return
        }
        let store = try await target.writableStore()
        let (agent, transport) = try settings.makeAgent(store: store, options: target, logger: logger)
        // A delivery redelivered across a restart starts nothing either: the recorded runs name theirs.
        let deliveries = RecentDeliveries()
        await deliveries.recall(try store.runs(limit: deliveries.capacity))
        let sessions = DashboardSessions(maxAge: settings.sessionMaxAge)
        let dashboard = Dashboard(
            agent: agent, store: store, access: settings.access, sessions: sessions, anonymousRead: anonymousRead, secureCookies: settings.tls != nil)
        let api = AgentAPI(
            agent: agent, store: store, access: settings.access, deliveries: deliveries, anonymousRead: anonymousRead, dashboard: dashboard)
        let server = AgentServer(host: settings.host, port: settings.port, tls: settings.tls, api: api, logger: logger)
        do {
            try await server.run { port in logger.info("listening on \(settings.host):\(port)") }
        } catch {
            await transport?.shutdown()
            throw error
        }
        await transport?.shutdown()
    }
}

/// `phoenix agent approve RUN`: through the agent's API, with an operate token from a file.
struct AgentApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a run that waits for a person: it is applied if its plan still holds, else planned again.")

    @Argument(help: "The run that waits.") var run: Int64
    @Option(name: .long, help: "The agent's address.") var url = "http://127.0.0.1:8420"
    @Option(name: .long, help: "A file holding a token with the operate role (default: $PHOENIX_TOKEN_FILE).") var tokenFile: String?

    func run() async throws {
        guard let path = tokenFile ?? ProcessInfo.processInfo.environment["PHOENIX_TOKEN_FILE"] else {
            throw fail("approve needs a token with the operate role: --token-file FILE", code: 64)
        }
        let token: String
        do { token = try SecretFile.readText(path) } catch { throw fail(error.description) }
        let transport = LiveHTTPTransport(tls: nil, idleTimeout: .seconds(5), readTimeout: .seconds(30))
        let request = HTTPRequestMessage(method: "POST", url: "\(url)/api/v1/runs/\(run)/approve", headers: [("Authorization", "Bearer \(token)")])
        let sent: Result<HTTPResponseMessage, any Error>
        do { sent = .success(try await transport.send(request, timeout: 30)) } catch { sent = .failure(error) }
        // Shut down before anything is said, whichever way the call went: no task outlives the command.
        await transport.shutdown()
        let response: HTTPResponseMessage
        do { response = try sent.get() } catch { throw fail("POST \(url)/api/v1/runs/\(run)/approve: \(error)") }
        let body = String(decoding: response.body, as: UTF8.self)
        guard response.status == 202 else { throw fail("the agent refused (\(response.status)): \(body.trimmingCharacters(in: .whitespacesAndNewlines))") }
        print("approved: \(body.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
}
