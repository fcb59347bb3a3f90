import Foundation
import PhoenixCore
import PhoenixState
import PhoenixTesting
import Testing

/// `phoenix agent` as a process, against a real git server (git daemon on loopback): the example
/// estate's `files` stage (its stack files, mirrored with rsync under a folder standing in for the
/// Proxmox host), so every run converges something real that can be read back.
@Suite("phoenix agent: git to production (git daemon, rsync)", .needs(.git, .gitDaemon, .rsync, .curl, .python3), .serialized)
struct AgentProcessTests {
    static let secret = "agent-webhook-secret-\(UUID().uuidString)"
    static let token = "agent-operate-token-\(UUID().uuidString)"
    static let readToken = "agent-read-token-\(UUID().uuidString)"

    final class Lab: Sendable {
        let fixture: GitFixture
        let daemon: GitDaemonServer
        let directory: TemporaryDirectory
        let port = FreePort.allocate()
        /// The agent's command line, without the environment it was started with.
        let command: [String]
        let process: RunningProcess

        /// `state`: how the agent names its state store (default: a SQLite file in the lab's directory).
        init(interval: String = "1s", extra: [String] = [], environment: [String] = [], commit: Bool = true, state: [String]? = nil) throws {
            fixture = try GitFixture()
            directory = try TemporaryDirectory("phoenix-agent-process")
            try directory.write("secret", AgentProcessTests.secret + "\n")
            try directory.write(
                "tokens",
                "operate ops \(WebhookSigning.sha256Hex(AgentProcessTests.token))\nread viewer \(WebhookSigning.sha256Hex(AgentProcessTests.readToken))\n")
            if commit { try Self.commitExample(fixture, "the example estate") }
            daemon = try GitDaemonServer(fixture)
            let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
            command =
                [
                    binary, "agent", "--repo", daemon.url, "--stages", "files", "--interval", interval, "--listen", "127.0.0.1:\(port)",
                    "--host-root", directory.file("host"), "--guest-root", directory.file("guests"), "--webhook-secret-file", directory.file("secret"),
                    "--tokens-file", directory.file("tokens"), "--log-format", "json",
                ] + (state ?? ["--state", directory.file("state/state.sqlite")]) + extra
            process = try RunningProcess(try #require(TestPaths.program("env")), environment + command, logFile: directory.file("agent.log"))
        }

        /// The agent started again on the same state and work directory, with `environment`.
        func restart(environment: [String] = []) throws -> RunningProcess {
            try RunningProcess(try #require(TestPaths.program("env")), environment + command, logFile: directory.file("agent-again.log"))
        }

        func head() throws -> String { try fixture.run(["-C", fixture.work, "rev-parse", "HEAD"]) }

        static func commitExample(_ fixture: GitFixture, _ message: String, whoami: String? = nil, broken: Bool = false, approve: [String]? = nil) throws {
            var files: [String: String] = [:]
            for directory in ["etc", "stacks"] {
                let base = "\(TestPaths.exampleEstate)/\(directory)"
                for relative in (FileManager.default.enumerator(atPath: base)?.allObjects as? [String]) ?? [] {
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: "\(base)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                    files["\(directory)/\(relative)"] = try String(contentsOfFile: "\(base)/\(relative)", encoding: .utf8)
                }
            }
            if let whoami { files["stacks/whoami/docker-compose.yml"] = whoami }
            if let approve {
                let path = "etc/phoenix_hypervisor_config.json"
                var root = try #require(try JSONSerialization.jsonObject(with: Data(files[path, default: ""].utf8)) as? [String: Any])
                var phoenix = root["phoenix"] as? [String: Any] ?? [:]
                phoenix["agent"] = ["approve": approve]
                root["phoenix"] = phoenix
                files[path] = String(decoding: try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys]), as: UTF8.self)
            }
            if broken { files["etc/phoenix_hypervisor_config.json"] = "{ not json" }
            try fixture.commit(message, files: files)
        }

        /// Another agent on the same repository, host folders and state store: its own port and work
        /// directory, as on another host.
        func another(port: Int, environment: [String] = []) throws -> RunningProcess {
            var command = self.command
            if let listen = command.firstIndex(of: "--listen") { command[listen + 1] = "127.0.0.1:\(port)" }
            command += ["--work-dir", directory.file("another-\(port)")]
            return try RunningProcess(try #require(TestPaths.program("env")), environment + command, logFile: directory.file("agent-\(port).log"))
        }

        func request(
            _ method: String, _ path: String, headers: [String] = [], body: String? = nil, port: Int? = nil
        ) throws -> (status: Int, body: String) {
            let curl = try #require(TestPaths.program("curl"))
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "http://127.0.0.1:\(port ?? self.port)\(path)"]
            for header in headers { arguments += ["-H", header] }
            if let body { arguments += ["--data-binary", body] }
            let result = try Command.run(curl, arguments, timeout: 30)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        func runs(port: Int? = nil) throws -> [[String: Any]] {
            let answer = try request("GET", "/api/v1/runs", headers: ["Authorization: Bearer \(AgentProcessTests.token)"], port: port)
            // Nothing yet while the agent starts to listen.
            let document = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
            return document?["runs"] as? [[String: Any]] ?? []
        }

        /// Waits for a finished run at `commit` (with `outcome`, when given) and returns the oldest
        /// such: the run that did the work, not a later one that found it done (a poll and a
        /// webhook can both look at a new commit).
        func finishedRun(at commit: String, outcome: String? = nil, timeout: TimeInterval = 60) async throws -> [String: Any] {
            var found: [String: Any]?
            _ = await eventually(timeout: timeout, interval: 0.2) {
                found = ((try? runs()) ?? []).last { run in
                    let state = run["outcome"] as? String ?? ""
                    return run["commit"] as? String == commit && !["queued", "running"].contains(state) && (outcome == nil || state == outcome)
                }
                return found != nil
            }
            let seen = (try? runs()) ?? []
            return try #require(found, "no finished run at \(commit): \(seen) \(process.log.suffix(2000))")
        }

        /// Sends a push's webhook and waits until the run it answered with has taken its commit (the
        /// branch's head then) and plans, or (`applying`) has planned and applies (`running`): a
        /// newer commit then lets its current resource finish (seconds, with the tests' added
        /// latency) instead of abandoning a plan at once. Returns it.
        func runningRun(delivery: String, applying: Bool = false) async throws -> Int {
            let answer = try webhook(delivery: delivery)
            let document = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
            let run = try #require(document?["run"] as? Int, "\(answer)")
            let started = await eventually(timeout: 30, interval: 0.05) {
                ((try? runs()) ?? []).contains {
                    $0["id"] as? Int == run && $0["commit"] is String && (!applying || $0["outcome"] as? String == "running")
                }
            }
            #expect(started, "run \(run) never took its commit\(applying ? " and started to apply" : ""): \((try? runs()) ?? []) \(process.log.suffix(1000))")
            return run
        }

        func webhook(delivery: String, port: Int? = nil) throws -> (status: Int, body: String) {
            let body = #"{"ref":"refs/heads/main"}"#
            let signature = WebhookSigning.hmacSHA256Hex(secret: AgentProcessTests.secret, body: Array(body.utf8))
            return try request(
                "POST", "/hooks/gitea",
                headers: ["Content-Type: application/json", "X-Gitea-Event: push", "X-Gitea-Delivery: \(delivery)", "X-Gitea-Signature: \(signature)"],
                body: body, port: port)
        }

        var mirrored: String? { try? String(contentsOfFile: directory.file("host/tank/stacks/whoami/docker-compose.yml"), encoding: .utf8) }
    }

    @Test("a commit converges by itself; a webhook's push is applied; an invalid commit applies nothing and the fix recovers; SIGTERM ends it")
    func gitToProduction() async throws {
        let lab = try Lab()
        defer { lab.process.stop() }
        let first = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let run = try await lab.finishedRun(at: first)
        #expect(run["outcome"] as? String == "succeeded", "\(run)")
        #expect((run["trigger"] as? [String: Any])?["kind"] as? String == "poll")
        #expect(lab.mirrored?.contains("whoami") == true, "the stack file is on the host")

        // A change, announced by a webhook: answered 202 with the run, then converged.
        try Lab.commitExample(lab.fixture, "whoami v2", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.2\n")
        let second = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let hook = try lab.webhook(delivery: "delivery-1")
        #expect(hook.status == 202 || hook.status == 200, "\(hook)")
        let applied = try await lab.finishedRun(at: second)
        #expect(applied["outcome"] as? String == "succeeded" && applied["previous_commit"] as? String == first, "\(applied)")
        #expect(lab.mirrored?.contains("v1.10.2") == true)
        let detail = try lab.request("GET", "/api/v1/runs/\(applied["id"] as? Int ?? 0)", headers: ["Authorization: Bearer \(Self.token)"])
        #expect(detail.status == 200 && detail.body.contains("files:whoami/docker-compose.yml"), "\(detail.body)")
        #expect(detail.body.contains("\"log\":[") && detail.body.contains("with rsync"), "the run's progress lines: \(detail.body)")

        // An invalid commit: failed with its diagnostics, nothing applied.
        try Lab.commitExample(lab.fixture, "broken", whoami: "services: {}\n", broken: true)
        let broken = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let refused = try await lab.finishedRun(at: broken)
        #expect(refused["outcome"] as? String == "failed", "\(refused)")
        let refusedDetail = try lab.request("GET", "/api/v1/runs/\(refused["id"] as? Int ?? 0)", headers: ["Authorization: Bearer \(Self.token)"])
        #expect(refusedDetail.body.contains("etc/phoenix_hypervisor_config.json"), "\(refusedDetail.body)")
        #expect(lab.mirrored?.contains("v1.10.2") == true, "what ran stays")

        // The fix converges.
        try Lab.commitExample(lab.fixture, "fixed", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.3\n")
        let fixed = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        #expect(try await lab.finishedRun(at: fixed)["outcome"] as? String == "succeeded")
        #expect(lab.mirrored?.contains("v1.10.3") == true)

        // SIGTERM: the process ends well within 30 s.
        let started = Date()
        lab.process.signal(SIGTERM)
        #expect(await eventually(timeout: 30) { !lab.process.isRunning }, "still running: \(lab.process.log.suffix(1000))")
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(lab.process.status == 0, "a graceful stop exits 0: \(lab.process.log.suffix(1000))")
        // No secret in the log or the state store.
        let log = lab.process.log
        let state = try Data(contentsOf: URL(fileURLWithPath: lab.directory.file("state/state.sqlite")))
        for secret in [Self.secret, Self.token] {
            #expect(!log.contains(secret))
            #expect(state.range(of: Data(secret.utf8)) == nil)
        }
        #expect(log.contains(#""level":"info""#), "the log is one JSON object a line")

        // Started again, the agent knows the delivery its recorded run came from: a redelivery starts nothing.
        let hookRun = (try? JSONSerialization.jsonObject(with: Data(hook.body.utf8)) as? [String: Any])?["run"] as? Int
        let again = try lab.restart()
        defer { again.stop() }
        var redelivered: (status: Int, body: String) = (0, "")
        #expect(
            await eventually(timeout: 30) {
                redelivered = (try? lab.webhook(delivery: "delivery-1")) ?? (0, "")
                return redelivered.status != 0
            }, "\(again.log.suffix(1000))")
        let answer = (try? JSONSerialization.jsonObject(with: Data(redelivered.body.utf8))) as? [String: Any]
        #expect(redelivered.status == 200 && answer?["duplicate"] as? Bool == true, "\(redelivered)")
        #expect(hookRun != nil && answer?["run"] as? Int == hookRun, "\(redelivered) \(hook)")
    }

    @Test("the git server down: health turns 503 after three intervals and the metric keeps the last success; back when it returns")
    func serverDown() async throws {
        let lab = try Lab(interval: "1s")
        defer { lab.process.stop() }
        let first = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        _ = try await lab.finishedRun(at: first)
        #expect(try lab.request("GET", "/healthz").status == 200)
        lab.daemon.stop()
        #expect(try await eventually(timeout: 20, interval: 0.25) { try lab.request("GET", "/healthz").status == 503 }, "\(lab.process.log.suffix(1000))")
        let health = try lab.request("GET", "/healthz")
        #expect(health.body.contains("more than three intervals"), "\(health.body)")
        let metrics = try lab.request("GET", "/metrics", headers: ["Authorization: Bearer \(Self.token)"]).body
        #expect(metrics.contains("phoenix_agent_last_successful_poll_timestamp_seconds "), "\(metrics)")
        #expect(metrics.contains(#"phoenix_agent_polls_total{result="failure"}"#))
        let restarted = try GitDaemonServer(lab.fixture, port: lab.daemon.port)
        defer { restarted.stop() }
        #expect(try await eventually(timeout: 20, interval: 0.25) { try lab.request("GET", "/healthz").status == 200 })
    }

    @Test(
        "statuses and notifications reach their servers (a stand-in records them): pending then the outcome per commit; a failing commit tried again notifies once; the fix once more"
    )
    func reports() async throws {
        let recorder = try RecordingHTTPServer()
        defer { recorder.stop() }
        let tokenDirectory = try TemporaryDirectory("phoenix-agent-status-token")
        let statusToken = "status-token-\(UUID().uuidString)"
        try tokenDirectory.write("status-token", statusToken + "\n")
        let lab = try Lab(
            interval: "1s",
            extra: [
                "--status-api", "gitea+\(recorder.url)/api/v1/repos/ops/estate", "--status-token-file", tokenDirectory.file("status-token"),
                "--notify", "\(recorder.url)/notify", "--estate-name", "lab",
            ])
        defer { lab.process.stop() }
        let first = try lab.head()
        #expect(try await lab.finishedRun(at: first)["outcome"] as? String == "succeeded")
        func statuses(_ commit: String) -> [String] {
            recorder.requests.filter { ($0["path"] as? String)?.hasSuffix("/statuses/\(commit)") == true }.compactMap { request in
                (try? JSONSerialization.jsonObject(with: Data((request["body"] as? String ?? "").utf8)) as? [String: Any])?["state"] as? String
            }
        }
        #expect(await eventually(timeout: 10) { statuses(first) == ["pending", "success"] }, "\(statuses(first))")
        let status = try #require(recorder.requests.first { ($0["path"] as? String)?.contains("/statuses/") == true })
        #expect((status["headers"] as? [String: String])?["Authorization"] == "token \(statusToken)")
        #expect(status["path"] as? String == "/api/v1/repos/ops/estate/statuses/\(first)")

        // A broken commit: failed, tried again with backoff, and told once.
        try Lab.commitExample(lab.fixture, "broken", broken: true)
        let broken = try lab.head()
        _ = try await lab.finishedRun(at: broken)
        #expect(
            await eventually(timeout: 20, interval: 0.25) { ((try? lab.runs()) ?? []).filter { $0["commit"] as? String == broken }.count >= 3 }, "tried again")
        let notifications = { recorder.requests.filter { $0["path"] as? String == "/notify" } }
        #expect(notifications().count == 1, "\(notifications())")
        let told = try #require(try JSONSerialization.jsonObject(with: Data((notifications().first?["body"] as? String ?? "").utf8)) as? [String: Any])
        #expect(told["event"] as? String == "failure" && told["commit"] as? String == broken && told["estate"] as? String == "lab", "\(told)")
        #expect(statuses(broken).first == "pending" && statuses(broken).contains("failure"))

        // The fix: one recovery.
        try Lab.commitExample(lab.fixture, "fixed", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.4\n")
        let fixed = try lab.head()
        #expect(try await lab.finishedRun(at: fixed)["outcome"] as? String == "succeeded")
        #expect(await eventually(timeout: 10) { notifications().count == 2 })
        let recovery = try JSONSerialization.jsonObject(with: Data((notifications().last?["body"] as? String ?? "").utf8)) as? [String: Any]
        #expect(recovery?["event"] as? String == "recovery")
        let log = lab.process.log
        #expect(!log.contains(statusToken))
        let state = try Data(contentsOf: URL(fileURLWithPath: lab.directory.file("state/state.sqlite")))
        #expect(state.range(of: Data(statusToken.utf8)) == nil)
    }

    @Test("newest commit wins: pushes during a slow run all join one waiting run, for the newest commit")
    func coalescingAndKill() async throws {
        // The stack file's step is held mid-apply (a `hold` failpoint) while a file exists: the run
        // applying x stays in its current resource for as long as the pushes take, however loaded
        // the machine is; then it is let go.
        let holding = try TemporaryDirectory("phoenix-agent-hold")
        let hold = holding.file("hold")
        let lab = try Lab(
            interval: "1h", environment: ["PHOENIX_FAILPOINT=files:whoami/docker-compose.yml:before:hold", "PHOENIX_FAILPOINT_HOLD=\(hold)"])
        defer { lab.process.stop() }
        let first = try lab.head()
        #expect(try await lab.finishedRun(at: first)["outcome"] as? String == "succeeded")

        try holding.write("hold", "held\n")
        try Lab.commitExample(lab.fixture, "x", whoami: "services:\n  whoami:\n    image: traefik/whoami:x\n")
        let x = try lab.head()
        let running = try await lab.runningRun(delivery: "x-1", applying: true)
        try Lab.commitExample(lab.fixture, "y", whoami: "services:\n  whoami:\n    image: traefik/whoami:y\n")
        let y = try lab.head()
        var joined: Set<Int> = []
        for index in 0..<10 {
            let answer = try lab.webhook(delivery: "y-\(index)")
            if let run = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["run"] as? Int { joined.insert(run) }
        }
        #expect(joined.count == 1 && !joined.contains(running), "ten pushes, one waiting run: \(joined)")
        try FileManager.default.removeItem(atPath: hold)
        let newest = try await lab.finishedRun(at: y)
        #expect(newest["outcome"] as? String == "succeeded" && joined.contains(newest["id"] as? Int ?? -1), "\(newest)")
        let atX = try lab.runs().filter { $0["commit"] as? String == x }
        #expect(atX.count == 1 && ["superseded", "succeeded"].contains(atX.first?["outcome"] as? String ?? ""), "\(atX)")
        #expect(lab.mirrored?.contains("whoami:y") == true)
    }

    @Test("a hand edit is reported by the drift check (log and metric); SIGHUP reads the tokens again; SIGTERM mid-run records it interrupted and exits")
    func driftReloadAndStop() async throws {
        let lab = try Lab(interval: "1h", extra: ["--drift-interval", "1s"], environment: ["PHOENIX_TEST_LATENCY_MS=300"])
        defer { lab.process.stop() }
        _ = try await lab.finishedRun(at: try lab.head(), outcome: "succeeded")
        let mirrored = lab.directory.file("host/tank/stacks/whoami/docker-compose.yml")
        try "services: {}  # edited by hand\n".write(toFile: mirrored, atomically: true, encoding: .utf8)
        let metric = { (try? lab.request("GET", "/metrics", headers: ["Authorization: Bearer \(AgentProcessTests.token)"]).body) ?? "" }
        #expect(await eventually(timeout: 30, interval: 0.25) { metric().contains("phoenix_drifted_resources 1.0") }, "\(metric())")
        #expect(lab.process.log.contains("files:whoami/docker-compose.yml (changed by hand)"), "\(lab.process.log.suffix(1500))")
        #expect(!lab.process.log.contains("edited by hand"), "drift names the resource, never its contents")

        // SIGHUP: a token added to the file works without a restart.
        let newToken = "rotated-token-\(UUID().uuidString)"
        try lab.directory.write(
            "tokens", "operate ops \(WebhookSigning.sha256Hex(AgentProcessTests.token))\nread dashboard \(WebhookSigning.sha256Hex(newToken))\n")
        #expect(try lab.request("GET", "/api/v1/runs", headers: ["Authorization: Bearer \(newToken)"]).status == 401)
        lab.process.signal(SIGHUP)
        #expect(
            try await eventually(timeout: 10, interval: 0.1) {
                try lab.request("GET", "/api/v1/runs", headers: ["Authorization: Bearer \(newToken)"]).status == 200
            })
        #expect(lab.process.isRunning, "SIGHUP reloads, it does not end the agent")

        // SIGTERM while a run applies (each call takes 300 ms): the run ends interrupted, the process exits 0.
        try Lab.commitExample(lab.fixture, "slow", whoami: "services:\n  whoami:\n    image: traefik/whoami:slow\n")
        let run = try await lab.runningRun(delivery: "slow-1")
        lab.process.signal(SIGTERM)
        #expect(await eventually(timeout: 30) { !lab.process.isRunning }, "\(lab.process.log.suffix(1000))")
        #expect(lab.process.status == 0)
        let store = try #require(try StateStore.existing(path: lab.directory.file("state/state.sqlite")))
        let record = try #require(try store.run(Int64(run)))
        #expect(["interrupted", "succeeded"].contains(record.outcome), "\(record)")
        if record.outcome == "interrupted" { #expect(record.summary.contains("shut down"), "\(record.summary)") }
    }

    @Test("the API over TLS from --tls-cert and --tls-key: the certificate served is the one given", .needs(.openssl))
    func tls() async throws {
        let keys = try TemporaryDirectory("phoenix-agent-tls")
        let openssl = try #require(TestPaths.program("openssl"))
        let made = try Command.run(
            openssl,
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=phoenix-agent.test",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keys.file("key.pem"), "-out", keys.file("cert.pem"),
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let lab = try Lab(interval: "1h", extra: ["--tls-cert", keys.file("cert.pem"), "--tls-key", keys.file("key.pem")])
        defer { lab.process.stop() }
        let curl = try #require(TestPaths.program("curl"))
        var answer = CommandResult(status: 1, stdout: "", stderr: "")
        _ = try await eventually(timeout: 20, interval: 0.2) {
            answer = try Command.run(curl, ["-s", "--cacert", keys.file("cert.pem"), "https://127.0.0.1:\(lab.port)/healthz"])
            return answer.status == 0 && answer.stdout.contains("healthy")
        }
        #expect(answer.stdout.contains(#""healthy":true"#), "\(answer.stdout) \(answer.stderr) \(lab.process.log.suffix(800))")
        let plain = try Command.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(lab.port)/healthz"])
        #expect(plain.stdout != "200", "plain HTTP is not served beside TLS")
        // A key file that cannot be read is named, before anything starts.
        let missing = try Command.run(
            "\(TestPaths.packageRoot)/.build/debug/phoenix",
            [
                "agent", "--check", "--repo", lab.daemon.url, "--state", keys.file("state.sqlite"), "--tls-cert", keys.file("cert.pem"),
                "--tls-key", keys.file("absent.pem"),
            ])
        #expect(missing.status == 64 && missing.stderr.contains("--tls-key \(keys.file("absent.pem")): cannot read the file"), "\(missing.stderr)")
    }

    @Test("a stage in phoenix.agent.approve waits for a person: nothing applied until `phoenix agent approve RUN`, then that run's plan is applied")
    func approvalThroughTheCLI() async throws {
        let lab = try Lab(interval: "1s", commit: false)
        defer { lab.process.stop() }
        try Lab.commitExample(lab.fixture, "gated", approve: ["files"])
        let commit = try lab.head()
        let waiting = try await lab.finishedRun(at: commit)
        #expect(waiting["outcome"] as? String == "waiting for approval", "\(waiting)")
        let run = try #require(waiting["id"] as? Int)
        #expect(lab.mirrored == nil, "nothing applied before the approval")

        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try lab.directory.write("operate-token", Self.token + "\n")
        let approved = try Command.run(
            binary, ["agent", "approve", String(run), "--url", "http://127.0.0.1:\(lab.port)", "--token-file", lab.directory.file("operate-token")])
        #expect(approved.status == 0 && approved.stdout.contains("approved"), "\(approved.stdout) \(approved.stderr)")
        #expect(!approved.stdout.contains(Self.token) && !approved.stderr.contains(Self.token))
        let applied = try await lab.finishedRun(at: commit, outcome: "succeeded")
        let trigger = applied["trigger"] as? [String: Any]
        #expect(trigger?["kind"] as? String == "approval" && trigger?["actor"] as? String == "ops", "\(applied)")
        #expect(lab.mirrored?.contains("whoami") == true)
        // A run that does not wait cannot be approved.
        let again = try Command.run(
            binary, ["agent", "approve", String(run), "--url", "http://127.0.0.1:\(lab.port)", "--token-file", lab.directory.file("operate-token")])
        #expect(again.status != 0 && again.stderr.contains("not waiting for approval"), "\(again.stderr)")
    }

    @Test("the agent killed in the middle of an apply (a crash failpoint after the file went live): started again, it resumes and converges")
    func killedMidApply() async throws {
        let lab = try Lab(interval: "1h", environment: ["PHOENIX_FAILPOINT=files:whoami/docker-compose.yml:after:crash"])
        defer { lab.process.stop() }
        #expect(await eventually(timeout: 60) { !lab.process.isRunning }, "the failpoint ends the process: \(lab.process.log.suffix(1000))")
        let first = try lab.head()
        let again = try lab.restart()
        defer { again.stop() }
        var resumed: [String: Any] = [:]
        #expect(
            await eventually(timeout: 60, interval: 0.2) {
                resumed = ((try? lab.runs()) ?? []).first { ["succeeded", "no changes"].contains($0["outcome"] as? String ?? "") } ?? [:]
                return !resumed.isEmpty
            }, "\(again.log.suffix(1500))")
        let all = try lab.runs()
        let killed = all.filter { $0["commit"] as? String == first && $0["id"] as? Int != resumed["id"] as? Int }
        #expect(killed.count == 1 && killed.first?["outcome"] as? String == "interrupted", "the killed run is recorded interrupted: \(all)")
        #expect(lab.mirrored?.contains("whoami") == true)
        #expect(resumed["commit"] as? String == first)
    }
}
