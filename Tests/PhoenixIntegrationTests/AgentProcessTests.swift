import Foundation
import PhoenixCore
import PhoenixState
import PhoenixTesting
import Testing

/// `phoenix agent` as a process, against a real git server (git daemon on loopback): the example
/// estate's `files` stage (its stack files, mirrored with rsync under a folder standing in for the
/// Proxmox host), so every run converges something real that can be read back.
@Suite("phoenix agent: git to production (git daemon, rsync)", .needs(.git, .gitDaemon), .serialized)
struct AgentProcessTests {
    static let secret = "agent-webhook-secret-\(UUID().uuidString)"
    static let token = "agent-operate-token-\(UUID().uuidString)"

    final class Lab: Sendable {
        let fixture: GitFixture
        let daemon: GitDaemonServer
        let directory: TemporaryDirectory
        let port = FreePort.allocate()
        let process: RunningProcess

        init(interval: String = "1s") throws {
            fixture = try GitFixture()
            directory = try TemporaryDirectory("phoenix-agent-process")
            try directory.write("secret", AgentProcessTests.secret + "\n")
            try directory.write("tokens", "operate ops \(WebhookSigning.sha256Hex(AgentProcessTests.token))\n")
            try Self.commitExample(fixture, "the example estate")
            daemon = try GitDaemonServer(fixture)
            let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
            process = try RunningProcess(
                binary,
                [
                    "agent", "--repo", daemon.url, "--stages", "files", "--interval", interval, "--listen", "127.0.0.1:\(port)",
                    "--state", directory.file("state/state.sqlite"), "--host-root", directory.file("host"), "--guest-root", directory.file("guests"),
                    "--webhook-secret-file", directory.file("secret"), "--tokens-file", directory.file("tokens"), "--log-format", "json",
                ],
                logFile: directory.file("agent.log"))
        }

        static func commitExample(_ fixture: GitFixture, _ message: String, whoami: String? = nil, broken: Bool = false) throws {
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
            if broken { files["etc/phoenix_hypervisor_config.json"] = "{ not json" }
            try fixture.commit(message, files: files)
        }

        func request(_ method: String, _ path: String, headers: [String] = [], body: String? = nil) throws -> (status: Int, body: String) {
            let curl = try #require(TestPaths.program("curl"))
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "http://127.0.0.1:\(port)\(path)"]
            for header in headers { arguments += ["-H", header] }
            if let body { arguments += ["--data-binary", body] }
            let result = try Command.run(curl, arguments, timeout: 30)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        func runs() throws -> [[String: Any]] {
            let answer = try request("GET", "/api/v1/runs", headers: ["Authorization: Bearer \(AgentProcessTests.token)"])
            // Nothing yet while the agent starts to listen.
            let document = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
            return document?["runs"] as? [[String: Any]] ?? []
        }

        /// Waits for a finished run at `commit`; returns it.
        func finishedRun(at commit: String, timeout: TimeInterval = 60) throws -> [String: Any] {
            var found: [String: Any]?
            _ = try waitUntil(timeout: timeout, interval: 0.2) {
                found = try runs().first { $0["commit"] as? String == commit && !["queued", "running"].contains($0["outcome"] as? String ?? "") }
                return found != nil
            }
            let seen = (try? runs()) ?? []
            return try #require(found, "no finished run at \(commit): \(seen) \(process.log.suffix(2000))")
        }

        func webhook(delivery: String) throws -> (status: Int, body: String) {
            let body = #"{"ref":"refs/heads/main"}"#
            let signature = WebhookSigning.hmacSHA256Hex(secret: AgentProcessTests.secret, body: Array(body.utf8))
            return try request(
                "POST", "/hooks/gitea",
                headers: ["Content-Type: application/json", "X-Gitea-Event: push", "X-Gitea-Delivery: \(delivery)", "X-Gitea-Signature: \(signature)"],
                body: body)
        }

        var mirrored: String? { try? String(contentsOfFile: directory.file("host/tank/stacks/whoami/docker-compose.yml"), encoding: .utf8) }
    }

    @Test("a commit converges by itself; a webhook's push is applied; an invalid commit applies nothing and the fix recovers; SIGTERM ends it")
    func gitToProduction() throws {
        let lab = try Lab()
        defer { lab.process.stop() }
        let first = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let run = try lab.finishedRun(at: first)
        #expect(run["outcome"] as? String == "succeeded", "\(run)")
        #expect((run["trigger"] as? [String: Any])?["kind"] as? String == "poll")
        #expect(lab.mirrored?.contains("whoami") == true, "the stack file is on the host")

        // A change, announced by a webhook: answered 202 with the run, then converged.
        try Lab.commitExample(lab.fixture, "whoami v2", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.2\n")
        let second = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let hook = try lab.webhook(delivery: "delivery-1")
        #expect(hook.status == 202 || hook.status == 200, "\(hook)")
        let applied = try lab.finishedRun(at: second)
        #expect(applied["outcome"] as? String == "succeeded" && applied["previous_commit"] as? String == first, "\(applied)")
        #expect(lab.mirrored?.contains("v1.10.2") == true)
        let detail = try lab.request("GET", "/api/v1/runs/\(applied["id"] as? Int ?? 0)", headers: ["Authorization: Bearer \(Self.token)"])
        #expect(detail.status == 200 && detail.body.contains("files:whoami/docker-compose.yml"), "\(detail.body)")

        // An invalid commit: failed with its diagnostics, nothing applied.
        try Lab.commitExample(lab.fixture, "broken", whoami: "services: {}\n", broken: true)
        let broken = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        let refused = try lab.finishedRun(at: broken)
        #expect(refused["outcome"] as? String == "failed", "\(refused)")
        let refusedDetail = try lab.request("GET", "/api/v1/runs/\(refused["id"] as? Int ?? 0)", headers: ["Authorization: Bearer \(Self.token)"])
        #expect(refusedDetail.body.contains("etc/phoenix_hypervisor_config.json"), "\(refusedDetail.body)")
        #expect(lab.mirrored?.contains("v1.10.2") == true, "what ran stays")

        // The fix converges.
        try Lab.commitExample(lab.fixture, "fixed", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.3\n")
        let fixed = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        #expect(try lab.finishedRun(at: fixed)["outcome"] as? String == "succeeded")
        #expect(lab.mirrored?.contains("v1.10.3") == true)

        // SIGTERM: the process ends well within 30 s.
        let started = Date()
        lab.process.signal(SIGTERM)
        #expect(waitUntil(timeout: 30) { !lab.process.isRunning }, "still running: \(lab.process.log.suffix(1000))")
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
    }

    @Test("the git server down: health turns 503 after three intervals and the metric keeps the last success; back when it returns")
    func serverDown() throws {
        let lab = try Lab(interval: "1s")
        defer { lab.process.stop() }
        let first = try lab.fixture.run(["-C", lab.fixture.work, "rev-parse", "HEAD"])
        _ = try lab.finishedRun(at: first)
        #expect(try lab.request("GET", "/healthz").status == 200)
        lab.daemon.stop()
        #expect(try waitUntil(timeout: 20, interval: 0.25) { try lab.request("GET", "/healthz").status == 503 }, "\(lab.process.log.suffix(1000))")
        let health = try lab.request("GET", "/healthz")
        #expect(health.body.contains("more than three intervals"), "\(health.body)")
        let metrics = try lab.request("GET", "/metrics", headers: ["Authorization: Bearer \(Self.token)"]).body
        #expect(metrics.contains("phoenix_agent_last_successful_poll_timestamp_seconds "), "\(metrics)")
        #expect(metrics.contains(#"phoenix_agent_polls_total{result="failure"}"#))
        let restarted = try GitDaemonServer(lab.fixture, port: lab.daemon.port)
        defer { restarted.stop() }
        #expect(try waitUntil(timeout: 20, interval: 0.25) { try lab.request("GET", "/healthz").status == 200 })
    }
}
