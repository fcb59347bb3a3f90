import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixServices
import PhoenixTesting
import Testing

/// The agent's HTTP API below the socket: requests as the server hands them over, the agent's queue
/// and the in-memory state store behind it. The repository is a stand-in (`PinnedHead`: a head that
/// never moves) — no run is performed here, only queued; CommitRunnerTests performs them.
@Suite("The agent's API: access, webhooks, runs")
struct AgentAPITests {
    static let secret = "webhook-secret-\(UUID().uuidString)"
    static let readToken = "read-token-\(UUID().uuidString)"
    static let operateToken = "operate-token-\(UUID().uuidString)"

    final class Setup: Sendable {
        let directory: TemporaryDirectory
        let store = InMemoryStateStore()
        let agent: Agent
        let api: AgentAPI

        init(anonymousRead: Bool = false) async throws {
            directory = try TemporaryDirectory("phoenix-agent-api")
            try directory.write("secret", AgentAPITests.secret + "\n")
            try directory.write(
                "tokens",
                """
                # role name sha256
                read dashboard \(WebhookSigning.sha256Hex(AgentAPITests.readToken))
                operate ops \(WebhookSigning.sha256Hex(AgentAPITests.operateToken))
                """)
            agent = queueOnlyAgent(store: store)
            let access = try AgentAccess(tokensFile: directory.file("tokens"), webhookSecretFile: directory.file("secret"), branch: "main")
            api = AgentAPI(agent: agent, store: store, access: access, anonymousRead: anonymousRead)
        }

        func get(_ path: String, token: String? = nil, query: [String: String] = [:]) async -> APIResponse {
            await api.handle(APIRequest(method: "GET", path: path, query: query, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? []))
        }

        func post(_ path: String, token: String?, body: String = "") async -> APIResponse {
            await api.handle(
                APIRequest(method: "POST", path: path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [], body: Array(body.utf8)))
        }

        func push(
            _ provider: String, branch: String = "main", delivery: String, secret: String = AgentAPITests.secret, sign: Bool = true
        ) async
            -> APIResponse
        {
            let body = Array(#"{"ref":"refs/heads/\#(branch)","after":"\#(String(repeating: "b", count: 40))"}"#.utf8)
            let signature = WebhookSigning.hmacSHA256Hex(secret: secret, body: body)
            var headers: [(name: String, value: String)]
            switch provider {
            case "github":
                headers = [("X-GitHub-Event", "push"), ("X-GitHub-Delivery", delivery)] + (sign ? [("X-Hub-Signature-256", "sha256=\(signature)")] : [])
            case "gitea": headers = [("X-Gitea-Event", "push"), ("X-Gitea-Delivery", delivery)] + (sign ? [("X-Gitea-Signature", signature)] : [])
            default: headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", delivery)] + (sign ? [("X-Gitlab-Token", secret)] : [])
            }
            return await api.handle(
                APIRequest(method: "POST", path: "/hooks/\(provider)", headers: headers + [("Content-Type", "application/json")], body: body))
        }
    }

    static func object(_ response: APIResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], "\(response.text)")
    }

    @Test("each provider's signed push is answered 202 with a run id; a repeat is 200 with the same run; a bad or missing signature 401")
    func webhooks() async throws {
        let setup = try await Setup()
        var runs: [Int] = []
        for (index, provider) in ["github", "gitea", "gitlab"].enumerated() {
            let accepted = await setup.push(provider, delivery: "delivery-\(index)")
            #expect(accepted.status == 202, "\(provider): \(accepted.text)")
            runs.append(try #require(try Self.object(accepted)["run"] as? Int))
            let repeated = await setup.push(provider, delivery: "delivery-\(index)")
            #expect(repeated.status == 200)
            let duplicate = try Self.object(repeated)
            #expect(duplicate["duplicate"] as? Bool == true && duplicate["run"] as? Int == runs.last)
            #expect(await setup.push(provider, delivery: "other-\(index)", secret: "wrong").status == 401)
            #expect(await setup.push(provider, delivery: "unsigned-\(index)", sign: false).status == 401)
            let elsewhere = await setup.push(provider, branch: "feature", delivery: "feature-\(index)")
            let ignored = try Self.object(elsewhere)
            #expect(elsewhere.status == 202 && ignored["ignored"] as? String != nil, "\(elsewhere.text)")
        }
        // Nothing runs the queue here: the first push queued a run, the others joined it.
        #expect(Set(runs).count == 1, "\(runs)")
        let record = try #require(try setup.store.run(Int64(runs[0])))
        #expect(record.outcome == "queued" && record.trigger == RunTrigger(.webhook, provider: "github", delivery: "delivery-0"))
        let oversized = await setup.api.handle(APIRequest(method: "POST", path: "/hooks/github", bodyTooLarge: true))
        #expect(oversized.status == 413)
        #expect(await setup.push("bitbucket", delivery: "x").status == 404)
        let metrics = await setup.get("/metrics", token: Self.readToken).text
        #expect(metrics.contains(#"phoenix_agent_webhooks_total{provider="github",result="accepted"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"phoenix_agent_webhooks_total{provider="gitea",result="duplicate"} 1"#))
        #expect(metrics.contains(#"phoenix_agent_webhooks_total{provider="gitlab",result="unauthorized"} 2"#))
    }

    @Test("reads need the read role (or --anonymous-read), operating the operate role; /healthz needs nothing and is 503 before a poll")
    func access() async throws {
        let setup = try await Setup()
        #expect(await setup.get("/api/v1/runs").status == 401)
        #expect(await setup.get("/metrics").status == 401)
        #expect(await setup.get("/api/v1/runs", token: "not-a-token").status == 401)
        #expect(await setup.get("/api/v1/runs", token: Self.readToken).status == 200)
        #expect(await setup.post("/api/v1/sync", token: Self.readToken).status == 403)
        #expect(await setup.post("/api/v1/sync", token: nil).status == 401)
        let health = await setup.get("/healthz")
        #expect(health.status == 503 && health.text.contains("no poll"), "\(health.text)")
        let metrics = await setup.get("/metrics", token: Self.operateToken)
        #expect(metrics.status == 200 && metrics.contentType.hasPrefix("text/plain"))
        for family in [
            "phoenix_agent_polls_total", "phoenix_runs_total", "phoenix_run_duration_seconds", "phoenix_drifted_resources",
            "phoenix_certificate_expiry_timestamp_seconds", "phoenix_agent_last_successful_poll_timestamp_seconds", "phoenix_agent_pending_commit",
        ] {
            #expect(metrics.text.contains("# HELP \(family) ") && metrics.text.contains("# TYPE \(family) "), "\(family)")
        }
        let anonymous = try await Setup(anonymousRead: true)
        #expect(await anonymous.get("/api/v1/runs").status == 200)
        #expect(await anonymous.post("/api/v1/sync", token: nil).status == 401, "anonymous read never operates")
    }

    @Test("POST /api/v1/sync queues a run for the token's name; runs list newest first a page at a time; one run has its resources; approve only what waits")
    func runs() async throws {
        let setup = try await Setup()
        let queued = await setup.post("/api/v1/sync", token: Self.operateToken, body: #"{"stages":["dns","certs"]}"#)
        #expect(queued.status == 202, "\(queued.text)")
        let run = try #require(try Self.object(queued)["run"] as? Int)
        #expect(try setup.store.run(Int64(run))?.trigger == RunTrigger(.api, actor: "ops"))
        #expect(await setup.post("/api/v1/sync", token: Self.operateToken, body: #"{"stages":["nope"]}"#).status == 400)
        // Three finished runs beside it, one waiting for approval.
        for outcome in [RunOutcome.succeeded, .failed, .waitingForApproval] {
            let (id, _) = try await setup.store.beginRun(command: "sync all", user: "ops", host: "node1")
            try setup.store.annotateRun(id, commit: String(repeating: "c", count: 40), previousCommit: nil, details: nil)
            try await setup.store.finishRun(id, outcome: outcome, summary: outcome.rawValue)
        }
        let first = try Self.object(await setup.get("/api/v1/runs", token: Self.readToken, query: ["limit": "2"]))
        let page = try #require(first["runs"] as? [[String: Any]])
        #expect(page.map { $0["id"] as? Int } == [4, 3] && first["version"] as? Int == 1)
        #expect(page[0]["outcome"] as? String == "waiting for approval" && (page[0]["trigger"] as? [String: Any])?["kind"] as? String == "cli")
        let next = try #require(first["next"] as? Int)
        let second = try Self.object(await setup.get("/api/v1/runs", token: Self.readToken, query: ["limit": "2", "before": String(next)]))
        #expect((second["runs"] as? [[String: Any]])?.map { $0["id"] as? Int } == [2, 1])
        #expect(second["next"] == nil)
        let one = try Self.object(await setup.get("/api/v1/runs/3", token: Self.readToken))
        #expect(one["outcome"] as? String == "failed" && one["resources"] is [Any] && one["commit"] as? String == String(repeating: "c", count: 40))
        #expect(await setup.get("/api/v1/runs/99", token: Self.readToken).status == 404)
        #expect(await setup.post("/api/v1/runs/3/approve", token: Self.operateToken).status == 409)
        // Run 1 (the API's) still waits in the queue: an approval behind it is refused, naming it.
        let refused = await setup.post("/api/v1/runs/4/approve", token: Self.operateToken)
        #expect(refused.status == 409 && refused.text.contains("(\(run))"), "\(refused.text)")
    }

    @Test("no secret or token appears in any answer")
    func noLeaks() async throws {
        let setup = try await Setup()
        var texts: [String] = []
        texts.append(await setup.push("github", delivery: "d1", secret: "wrong").text)
        texts.append(await setup.push("gitlab", delivery: "d2").text)
        texts.append(await setup.get("/api/v1/runs", token: Self.readToken).text)
        texts.append(await setup.get("/metrics", token: Self.readToken).text)
        texts.append(await setup.post("/api/v1/sync", token: Self.readToken).text)
        texts.append(await setup.get("/healthz").text)
        for text in texts {
            for secret in [Self.secret, Self.readToken, Self.operateToken] { #expect(!text.contains(secret)) }
        }
        #expect(texts.count == 6 && texts.allSatisfy { !$0.isEmpty })
    }
}
