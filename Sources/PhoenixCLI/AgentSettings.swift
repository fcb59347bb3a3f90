import ArgumentParser
import Foundation
import Logging
import PhoenixAgent
import PhoenixAgentServer
import PhoenixCore
import PhoenixHTTP
import PhoenixServices
import PhoenixState

/// The agent's options, checked and turned into its parts: every problem is named with its option,
/// never with a secret (a file's contents, a notification URL's token).
struct AgentSettingsReader {
    let options: AgentRunCommand

    init(_ options: AgentRunCommand) { self.options = options }

    struct Settings {
        let git: SystemGit
        let access: AgentAccess
        let host: String
        let port: Int
        let tls: (certificate: String, key: String)?
        let logFormat: LineLogHandler.Format
        let stages: [SyncStage]
        let interval: Double
        let driftInterval: Double
        let certificateInterval: Double
        let heartbeat: Double
        let sessionMaxAge: Double
        let estateName: String
        let statusAPI: CommitStatusAPI?
        let notifications: [NotificationTarget]
        let options: AgentRunCommand

        var summary: String {
            var parts = ["polls every \(AgentDuration.text(interval))", "drift every \(AgentDuration.text(driftInterval))"]
            parts.append(access.verifier == nil ? "webhooks off" : "webhooks on")
            if let statusAPI { parts.append("statuses to \(statusAPI)") }
            if !notifications.isEmpty { parts.append("notifies \(notifications.map(\.description).joined(separator: ", "))") }
            return parts.joined(separator: ", ")
        }

        /// The agent over the live adapters `target` names, and the HTTP transport of its reports
        /// (nil without statuses or notifications) to shut down when it ends.
        func makeAgent(store: any StateBackend, options target: SyncOptions, logger: Logger) throws -> (Agent, LiveHTTPTransport?) {
            let services = AgentServices(
                load: { etc, stacks in
                    EstateLoader(stages: KindRegistry.standard.stages).load(ConfigReader(configDirectory: etc, stacksDirectory: stacks).read())
                },
                lease: { estate, stages, stacks in
                    let lease = try await target.service(estate: estate, stages: stages, stacksDirectory: stacks, quiet: true)
                    return AgentServices.Lease(service: lease.service, release: lease.release)
                })
            let runner = CommitRunner(
                settings: .init(
                    branch: options.branch, configPath: options.configPath, stacksPath: options.stacksPath, verifySignatures: options.verifyCommits != nil,
                    stages: stages),
                git: git, store: store, services: services)
            let transport =
                statusAPI == nil && notifications.isEmpty ? nil : LiveHTTPTransport(tls: nil, idleTimeout: .seconds(30), readTimeout: .seconds(30))
            let warn: @Sendable (String) -> Void = { logger.warning("\($0)") }
            var reports = Agent.Reports()
            if let statusAPI, let transport {
                guard let tokenFile = options.statusTokenFile else { throw fail("--status-api needs --status-token-file", code: 64) }
                reports.status = CommitStatusReporter(
                    api: statusAPI, transport: transport, context: CommitStatusReporter.context(estate: estateName),
                    token: CommitStatusReporter.tokenFile(tokenFile), warn: warn)
            }
            if let transport, !notifications.isEmpty { reports.notifier = Notifier(targets: notifications, transport: transport, warn: warn) }
            let base = options.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            let agentSettings = Agent.Settings(
                estateName: estateName, interval: interval, driftInterval: driftInterval, certificateInterval: certificateInterval,
                runLink: { run in base.map { "\($0)/api/v1/runs/\(run)" } })
            // Agents sharing a PostgreSQL store elect one active agent; the others stand by.
            let hostName = ProcessInfo.processInfo.hostName
            let standby = (store as? any AgentLeasing).map { leasing in
                Agent.Standby(
                    leasing: leasing, identity: AgentIdentity(host: hostName, pid: getpid(), address: base ?? "http://\(hostName):\(port)"),
                    heartbeat: .seconds(heartbeat))
            }
            let agent = Agent(settings: agentSettings, runner: runner, store: store, reports: reports, standby: standby) { level, message in
                switch level {
                case .info: logger.info("\(message)")
                case .warning: logger.warning("\(message)")
                case .error: logger.error("\(message)")
                }
            }
            return (agent, transport)
        }
    }

    func read() throws -> Settings {
        func duration(_ text: String, _ option: String) throws -> Double {
            guard let seconds = AgentDuration.seconds(text) else { throw fail("\(option) \(text): not a duration (90s, 5m, 1h)", code: 64) }
            return seconds
        }
        let interval = try duration(options.interval, "--interval")
        let driftInterval = try duration(options.driftInterval, "--drift-interval")
        let heartbeat = try duration(options.heartbeat, "--heartbeat")
        let certificateInterval = try duration(options.certificateInterval, "--certificate-interval")
        let sessionMaxAge = try duration(options.sessionMaxAge, "--session-max-age")
        guard let format = LineLogHandler.Format(rawValue: options.logFormat) else { throw fail("--log-format: text or json", code: 64) }
        let stages: [SyncStage]
        do { stages = try parseStages(options.stages.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }) } catch {
            throw fail("--stages: \(error)", code: 64)
        }
        let (host, port) = try Self.address(options.listen)
        guard (options.tlsCert == nil) == (options.tlsKey == nil) else { throw fail("--tls-cert and --tls-key go together", code: 64) }
        for (option, path) in [("--tls-cert", options.tlsCert), ("--tls-key", options.tlsKey)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) { throw fail("\(option) \(path): cannot read the file", code: 64) }
        }
        let credentials: GitCredentials
        switch (options.gitTokenFile, options.sshKey, options.knownHosts) {
        case (nil, nil, nil): credentials = .none
        case let (file?, nil, nil): credentials = .token(file: file, username: options.gitUsername)
        case let (nil, key?, known?): credentials = .deployKey(key: key, knownHosts: known)
        case (nil, _?, nil), (nil, nil, _?): throw fail("--ssh-key and --known-hosts go together: the server's key is pinned", code: 64)
        default: throw fail("--git-token-file is for https, --ssh-key for ssh: give one", code: 64)
        }
        var signatures: SignatureCheck?
        if let mode = options.verifyCommits {
            guard let signers = options.allowedSigners else { throw fail("--verify-commits needs --allowed-signers", code: 64) }
            switch mode {
            case "ssh": signatures = .ssh(allowedSigners: signers)
            case "gpg": signatures = .gpg(publicKeys: signers)
            default: throw fail("--verify-commits \(mode): ssh or gpg", code: 64)
            }
        }
        // Beside a SQLite store; with PostgreSQL, phoenix's own directory on this host.
        let workDir = try options.workDir ?? "\(options.target.stateStore.location.directory ?? "/var/lib/phoenix")/agent"
        let git: SystemGit
        do {
            git = try SystemGit(url: options.repo, workDirectory: workDir, options: .init(credentials: credentials, signatures: signatures))
        } catch { throw fail("--repo: \(error)", code: 64) }
        let access: AgentAccess
        do {
            access = try AgentAccess(tokensFile: options.tokensFile, webhookSecretFile: options.webhookSecretFile, branch: options.branch)
        } catch { throw fail("\(error)", code: 64) }
        var statusAPI: CommitStatusAPI?
        if let text = options.statusAPI {
            do { statusAPI = try CommitStatusAPI(text) } catch { throw fail("--status-api: \(error)", code: 64) }
        }
        var targets: [NotificationTarget] = []
        for text in options.notify {
            do { targets.append(try NotificationTarget(text)) } catch { throw fail("--notify: \(error)", code: 64) }
        }
        let name = options.estateName ?? URL(fileURLWithPath: options.repo).deletingPathExtension().lastPathComponent
        return Settings(
            git: git, access: access, host: host, port: port, tls: options.tlsCert.map { ($0, options.tlsKey!) }, logFormat: format, stages: stages,
            interval: interval,
            driftInterval: driftInterval, certificateInterval: certificateInterval, heartbeat: heartbeat, sessionMaxAge: sessionMaxAge, estateName: name,
            statusAPI: statusAPI,
            notifications: targets,
            options: options)
    }

    /// `host:port`, `[v6]:port` or `:port` (all addresses).
    static func address(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw fail("--listen \(text): host:port", code: 64)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
