import Foundation
import PhoenixCore
import PhoenixServices
import PhoenixTesting
import Testing

@testable import PhoenixAgent

/// The dashboard below the socket: requests as the server hands them over, the agent and the
/// in-memory state store behind them (no run is performed: the queue only records). Sign-in,
/// sessions, CSRF and what each role sees; the pages' markers. The browser tests drive the real
/// agent.
@Suite("The dashboard: sign-in, sessions, CSRF, pages")
struct DashboardTests {
    static let readToken = "read-token-\(UUID().uuidString)"
    static let operateToken = "operate-token-\(UUID().uuidString)"

    final class Setup: Sendable {
        let directory: TemporaryDirectory
        let store = InMemoryStateStore()
        let agent: Agent
        let access: AgentAccess
        let api: AgentAPI
        let clock = ManualClock()

        init(anonymousRead: Bool = false, secure: Bool = false) async throws {
            directory = try TemporaryDirectory("phoenix-dashboard")
            try directory.write(
                "tokens",
                """
                read viewer \(WebhookSigning.sha256Hex(DashboardTests.readToken))
                operate ops \(WebhookSigning.sha256Hex(DashboardTests.operateToken))
                """)
            agent = queueOnlyAgent(store: store)
            access = try AgentAccess(tokensFile: directory.file("tokens"), webhookSecretFile: nil, branch: "main")
            let sessions = DashboardSessions(maxAge: 3600, clock: clock.closure)
            let dashboard = Dashboard(agent: agent, store: store, access: access, sessions: sessions, anonymousRead: anonymousRead, secureCookies: secure)
            api = AgentAPI(agent: agent, store: store, access: access, anonymousRead: anonymousRead, dashboard: dashboard)
        }

        func get(_ path: String, cookie: String? = nil, query: [String: String] = [:]) async -> APIResponse {
            await api.handle(APIRequest(method: "GET", path: path, query: query, headers: cookie.map { [("Cookie", "phoenix_session=\($0)")] } ?? []))
        }

        func post(_ path: String, cookie: String? = nil, form: String = "") async -> APIResponse {
            var headers = [("Content-Type", "application/x-www-form-urlencoded")]
            if let cookie { headers.append(("Cookie", "theme=dark; phoenix_session=\(cookie)")) }
            return await api.handle(APIRequest(method: "POST", path: path, headers: headers, body: Array(form.utf8)))
        }

        /// Signs in with `token`: the session cookie's value.
        func signIn(_ token: String) async throws -> String {
            let answer = await post("/login", form: "token=\(FormData.encode(token))")
            try #require(answer.status == 303, "\(answer.text)")
            let cookie = try #require(answer.headers["Set-Cookie"])
            return String(try #require(cookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last))
        }

        /// The CSRF token of the forms on a page.
        static func csrf(_ page: APIResponse) throws -> String {
            let text = page.text
            let marker = "name=\"csrf\" value=\""
            let start = try #require(text.range(of: marker), "no form with a CSRF field").upperBound
            return String(text[start...].prefix { $0 != "\"" })
        }

        /// A run that waits for approval, as the agent records one.
        func waitingRun(summary: String = "1 change to guests waits for approval") async throws -> Int64 {
            let run = try store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
            _ = try store.beginRun(queued: run, pid: getpid())
            try store.annotateRun(run, commit: String(repeating: "c", count: 40), previousCommit: nil, details: nil)
            try await store.finishRun(run, outcome: .waitingForApproval, summary: summary)
            return run
        }
    }

    @Test("pages need a sign-in: the login form, a wrong token 401, a right one a session cookie (HttpOnly, SameSite=Strict, Max-Age)")
    func signIn() async throws {
        let setup = try await Setup()
        let anonymous = await setup.get("/")
        #expect(anonymous.status == 303 && anonymous.headers["Location"] == "/login")
        let form = await setup.get("/login")
        #expect(form.status == 200 && form.text.contains("name=\"token\"") && form.text.contains("<label for=\"token\">"))
        let wrong = await setup.post("/login", form: "token=nope")
        #expect(wrong.status == 401 && wrong.headers["Set-Cookie"] == nil)
        let right = await setup.post("/login", form: "token=\(Self.readToken)")
        #expect(right.status == 303 && right.headers["Location"] == "/")
        let cookie = try #require(right.headers["Set-Cookie"])
        #expect(cookie.hasPrefix("phoenix_session="))
        for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=3600", "Path=/"] { #expect(cookie.contains(attribute), "\(cookie)") }
        #expect(!cookie.contains("Secure"), "plain HTTP on loopback: no Secure")
        #expect(!cookie.contains(Self.readToken), "the cookie is a session id, never the token")
        let session = try await setup.signIn(Self.readToken)
        let overview = await setup.get("/", cookie: session)
        #expect(overview.status == 200 && overview.text.contains("viewer (read)"), "\(overview.text)")
        #expect(overview.headers["Cache-Control"] == "no-store" && overview.headers["Content-Security-Policy"]?.contains("frame-ancestors 'none'") == true)
        // The API never takes the cookie.
        let api = await setup.api.handle(APIRequest(method: "GET", path: "/api/v1/runs", headers: [("Cookie", "phoenix_session=\(session)")]))
        #expect(api.status == 401)
    }

    @Test("under TLS the cookie is Secure too")
    func secureCookie() async throws {
        let setup = try await Setup(secure: true)
        let answer = await setup.post("/login", form: "token=\(Self.operateToken)")
        #expect(answer.headers["Set-Cookie"]?.contains("; Secure") == true)
    }

    @Test("a read-only session sees no action button, and a forged POST gets 403; the operate role needs the session's CSRF token")
    func roles() async throws {
        let setup = try await Setup()
        let waiting = try await setup.waitingRun()
        let reader = try await setup.signIn(Self.readToken)
        let readerPages = [await setup.get("/", cookie: reader), await setup.get("/runs/\(waiting)", cookie: reader)]
        for page in readerPages {
            #expect(page.status == 200)
            #expect(!page.text.contains("action=\"/sync\"") && !page.text.contains("/approve\"") && !page.text.contains("/discard\""))
        }
        let readerCSRF = try Setup.csrf(readerPages[0])  // the sign-out form's
        #expect(await setup.post("/sync", cookie: reader, form: "csrf=\(readerCSRF)").status == 403)
        #expect(await setup.post("/runs/\(waiting)/approve", cookie: reader, form: "csrf=\(readerCSRF)").status == 403)
        #expect(await setup.post("/sync", form: "csrf=\(readerCSRF)").status == 403, "no session at all")

        let operating = try await setup.signIn(Self.operateToken)
        let overview = await setup.get("/", cookie: operating)
        #expect(overview.text.contains("action=\"/sync\""))
        let csrf = try Setup.csrf(overview)
        #expect(csrf != readerCSRF)
        #expect(await setup.post("/sync", cookie: operating).status == 403, "no CSRF token")
        #expect(await setup.post("/sync", cookie: operating, form: "csrf=\(readerCSRF)").status == 403, "another session's token")
        await #expect(try setup.store.runs(limit: 10).count == 1, "nothing was queued")
        let synced = await setup.post("/sync", cookie: operating, form: "csrf=\(csrf)")
        #expect(synced.status == 303, "\(synced.text)")
        let queued = try await #require(try setup.store.runs(limit: 1).first)
        #expect(synced.headers["Location"] == "/runs/\(queued.id)")
        #expect(queued.outcome == "queued" && queued.trigger == RunTrigger(.api, actor: "ops"))
    }

    @Test("a plan waiting for approval: discarded from its page it can no longer be approved; approved, a run takes it up")
    func approveAndDiscard() async throws {
        let setup = try await Setup()
        let operating = try await setup.signIn(Self.operateToken)
        let first = try await setup.waitingRun()
        let page = await setup.get("/runs/\(first)", cookie: operating)
        #expect(page.text.contains("action=\"/runs/\(first)/approve\"") && page.text.contains("action=\"/runs/\(first)/discard\""))
        #expect(page.text.contains("data-outcome=\"waiting for approval\""))
        let csrf = try Setup.csrf(page)
        #expect(await setup.post("/runs/\(first)/discard", cookie: operating, form: "csrf=\(csrf)").status == 303)
        #expect(try setup.store.run(first)?.outcome == "discarded")
        #expect(try setup.store.run(first)?.summary.hasPrefix("discarded by ops") == true)
        #expect(await setup.post("/runs/\(first)/approve", cookie: operating, form: "csrf=\(csrf)").status == 409)

        let second = try await setup.waitingRun()
        let approved = await setup.post("/runs/\(second)/approve", cookie: operating, form: "csrf=\(csrf)")
        #expect(approved.status == 303, "\(approved.text)")
        let approval = try await #require(try setup.store.runs(limit: 1).first)
        #expect(approved.headers["Location"] == "/runs/\(approval.id)")
        #expect(approval.trigger == RunTrigger(.approval, actor: "ops", approves: second))
    }

    @Test("a session ends at its max age, at sign-out, and when its token leaves the tokens file; five failed sign-ins hold sign-in back")
    func sessionEnds() async throws {
        let setup = try await Setup()
        let session = try await setup.signIn(Self.readToken)
        setup.clock.advance(3599)
        #expect(await setup.get("/", cookie: session).status == 200)
        setup.clock.advance(2)
        #expect(await setup.get("/", cookie: session).headers["Location"] == "/login", "expired: back to the login")

        let again = try await setup.signIn(Self.readToken)
        let csrf = try Setup.csrf(await setup.get("/", cookie: again))
        #expect(await setup.post("/logout", cookie: again, form: "csrf=\(csrf)").headers["Location"] == "/login")
        #expect(await setup.get("/", cookie: again).status == 303)

        let kept = try await setup.signIn(Self.operateToken)
        try setup.directory.write("tokens", "read viewer \(WebhookSigning.sha256Hex(Self.readToken))\n")
        try setup.access.reload()
        #expect(await setup.get("/", cookie: kept).status == 303, "its token is gone")

        for _ in 0..<5 { #expect(await setup.post("/login", form: "token=wrong").status == 401) }
        #expect(await setup.post("/login", form: "token=\(Self.readToken)").status == 429)
        setup.clock.advance(301)
        #expect(await setup.post("/login", form: "token=\(Self.readToken)").status == 303)
    }

    @Test("--anonymous-read: anyone reads every page, no button shows, and every POST is 403")
    func anonymousRead() async throws {
        let setup = try await Setup(anonymousRead: true)
        let waiting = try await setup.waitingRun()
        for path in ["/", "/runs", "/runs/\(waiting)", "/drift", "/certificates", "/graph"] {
            let page = await setup.get(path)
            #expect(page.status == 200, "\(path)")
            #expect(page.text.contains("Read-only, anonymous") && !page.text.contains("<button type=\"submit\" class=\"primary\">Approve"), "\(path)")
        }
        #expect(await setup.post("/sync", form: "csrf=x").status == 403)
        #expect(await setup.post("/runs/\(waiting)/approve").status == 403)
    }

    @Test("runs: 50 a page with a link to the older ones, filtered by outcome and trigger; each row carries data-run")
    func runsPages() async throws {
        let setup = try await Setup(anonymousRead: true)
        for index in 1...120 {
            let trigger = index % 3 == 0 ? RunTrigger(.webhook, provider: "gitea", delivery: "d-\(index)") : RunTrigger(.poll)
            let run = try setup.store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: trigger)
            _ = try setup.store.beginRun(queued: run, pid: getpid())
            try await setup.store.finishRun(run, outcome: index % 10 == 0 ? .failed : .noChanges, summary: "run \(index)")
        }
        let first = await setup.get("/runs")
        #expect(first.text.components(separatedBy: "<tr data-run=").count - 1 == 50)
        #expect(first.text.contains("data-run=\"120\"") && !first.text.contains("data-run=\"70\""))
        #expect(first.text.contains("href=\"/runs?before=71\""), "\(first.text.suffix(400))")
        let second = await setup.get("/runs", query: ["before": "71"])
        #expect(second.text.contains("data-run=\"70\"") && second.text.contains("data-run=\"21\""))
        let failed = await setup.get("/runs", query: ["outcome": "failed"])
        #expect(failed.text.components(separatedBy: "<tr data-run=").count - 1 == 12)
        #expect(!failed.text.contains("no changes</span>"))
        let hooks = await setup.get("/runs", query: ["trigger": "webhook", "outcome": "failed"])
        #expect(hooks.text.components(separatedBy: "<tr data-run=").count - 1 == 4, "runs 30, 60, 90, 120")
        #expect(hooks.text.contains("<option value=\"webhook\" selected>"))
    }

    @Test("what the pages show is escaped: a summary holding markup is text; no token appears on any page")
    func escaping() async throws {
        let setup = try await Setup()
        let run = try await setup.waitingRun(summary: "<script>alert('x')</script> & \"quoted\"")
        var details = RunDetails()
        details.log = ["[  0.1s] files: <b>staging</b> 1 file"]
        try setup.store.annotateRun(run, commit: nil, previousCommit: nil, details: details.encoded())
        let logged = await setup.get("/runs/\(run)", cookie: try await setup.signIn(Self.readToken))
        #expect(logged.text.contains("<ol class=\"log\"><li><code>[  0.1s] files: &lt;b&gt;staging&lt;/b&gt; 1 file</code></li></ol>"), "\(logged.text)")
        let session = try await setup.signIn(Self.operateToken)
        for path in ["/", "/runs", "/runs/\(run)"] {
            let page = await setup.get(path, cookie: session)
            #expect(!page.text.contains("<script>"), "\(path)")
            #expect(page.text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"), "\(path)")
            #expect(!page.text.contains(Self.operateToken) && !page.text.contains(Self.readToken))
        }
        #expect(HTML.escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;")
        let name = "<b>"
        let built: HTML = "<p>\(name)</p>\(HTML(raw: "<br>"))"
        #expect(built.text == "<p>&lt;b&gt;</p><br>")
    }

    @Test("the graph: the stages and what each needs, then one stage's resources with what they need from other stages, coloured by state")
    func graph() async throws {
        let setup = try await Setup(anonymousRead: true)
        var status = EstateStatus(
            commit: String(repeating: "e", count: 40), checked: Date(),
            stageOf: ["guest:101": .guests, "cert:web": .certs, "gateway:site": .gateway, "dns:records": .dns],
            kindOf: ["guest:101": "guest-settings", "cert:web": "cert", "gateway:site": "file", "dns:records": "file"],
            drifts: [KindDrift(kind: "file", findings: [DriftFinding(id: "gateway:site", kind: "file", state: .changedByHand)])], notApplied: [])
        status.dependsOn = ["gateway:site": ["cert:web", "guest:101"], "cert:web": ["guest:101"]]
        await setup.agent.adopt(status)
        let stages = await setup.get("/graph")
        #expect(stages.status == 200)
        #expect(stages.text.contains("<li data-stage=\"gateway\" data-state=\"drifted\"><a href=\"/graph?stage=gateway\">"), "\(stages.text)")
        #expect(stages.text.contains(", needs guests, certs</li>"), "in the stages' order")
        #expect(stages.text.contains("<svg role=\"img\"") && stages.text.contains("class=\"node drifted\""))
        let gateway = await setup.get("/graph", query: ["stage": "gateway"])
        #expect(gateway.text.contains("<li data-resource=\"gateway:site\" data-state=\"drifted\">"))
        #expect(gateway.text.contains("class=\"node in-sync outside\"><title>cert:web: in sync</title>"), "the certificate it needs, muted")
        #expect(gateway.text.components(separatedBy: "class=\"edge\"").count - 1 == 2, "gateway:site needs two; cert:web is outside, its own needs not drawn")
    }

    @Test("a run still going: its page watches the run's events, which stream each resource as it settles and then the end")
    func liveRun() async throws {
        let setup = try await Setup(anonymousRead: true)
        let run = try setup.store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.api, actor: "ops"))
        let page = await setup.get("/runs/\(run)")
        #expect(page.text.contains("data-live-run=\"\(run)\"") && page.text.contains("<script src=\"/assets/live.js\" defer></script>"))
        #expect(await setup.get("/assets/live.js").text.contains("new EventSource("))

        let answer = await setup.get("/runs/\(run)/events")
        #expect(answer.status == 200 && answer.contentType == "text/event-stream")
        let stream = try #require(answer.stream, "a run still going streams")
        setup.agent.events.publish(run, .resource(ResourceSettled(id: "files:web/docker-compose.yml", kind: "file", outcome: "converged")))
        setup.agent.events.publish(run + 1, .resource(ResourceSettled(id: "files:other", kind: "file", outcome: "failed")))
        setup.agent.events.publish(run, .resource(ResourceSettled(id: "stack:production/web", kind: "stack", outcome: "failed", reason: "health")))
        setup.agent.events.publish(run, .ended(outcome: "failed", summary: "1 failed"))
        var text = ""
        for await chunk in stream { text += String(decoding: chunk, as: UTF8.self) }
        #expect(
            text == """
                event: resource
                data: {"id":"files:web/docker-compose.yml","kind":"file","outcome":"converged"}

                event: resource
                data: {"id":"stack:production/web","kind":"stack","outcome":"failed","reason":"health"}

                event: ended
                data: {"outcome":"failed","summary":"1 failed"}


                """, "\(text)")
        #expect(setup.agent.events.count == 0, "the watch ended with the run")

        // A run that has ended answers its end at once.
        _ = try setup.store.beginRun(queued: run, pid: getpid())
        try await setup.store.finishRun(run, outcome: .succeeded, summary: "done")
        let ended = await setup.get("/runs/\(run)/events")
        #expect(ended.stream == nil && ended.text.contains("event: ended\ndata: {\"outcome\":\"succeeded\""))
        #expect(!(await setup.get("/runs/\(run)")).text.contains("data-live-run"))
    }

    @Test("the overview: each stage with data-stage and data-state from the last drift check and the last run's failures")
    func overviewStages() {
        let status = EstateStatus(
            commit: String(repeating: "d", count: 40), checked: Date(timeIntervalSince1970: 1_800_000_000),
            stageOf: [
                "file:/etc/hosts": .dns, "file:/etc/nginx/site": .gateway, "files:web/docker-compose.yml": .files, "stack:production/web": .stacks,
                "cert:web": .certs,
            ],
            kindOf: [
                "file:/etc/hosts": "file", "file:/etc/nginx/site": "file", "files:web/docker-compose.yml": "file", "stack:production/web": "stack",
                "cert:web": "cert",
            ],
            drifts: [
                KindDrift(kind: "file", findings: [DriftFinding(id: "file:/etc/hosts", kind: "file", state: .changedByHand, detail: "mode 0600")]),
                KindDrift(kind: "cert", failure: .cannotCheck(reason: "the CA is down")),
                KindDrift(kind: "file", findings: [DriftFinding(id: "files:web/docker-compose.yml", kind: "file", state: .inSync)]),
                KindDrift.notChecked(kind: "stack", resources: 1),
            ],
            notApplied: [(.guests, "no Proxmox API options")]
        ).after(runFailures: ["stack:production/web": .verificationFailed(check: "health", seen: "0 of 2 tasks running")])
        let html = OverviewPage.stages(status).text
        for (stage, state) in [
            ("files", "in sync"), ("dns", "drifted"), ("gateway", "in sync"), ("stacks", "failed"), ("certs", "failed"), ("guests", "not applied"),
        ] {
            #expect(html.contains("data-stage=\"\(stage)\" data-state=\"\(state)\""), "\(stage): \(html)")
        }
        #expect(!html.contains("data-stage=\"swarm\""), "only stages with resources in the estate")
        #expect(html.contains("<p>Not checked for drift: the stack kind has no drift check: only plan and sync compare its 1 resource</p>"), "\(html)")
        let healed = status.after(runFailures: [:])
        #expect(healed.stages.first { $0.stage == .stacks }?.state == .inSync)
        #expect(healed.stages.first { $0.stage == .certs }?.state == .failed, "a kind that could not be checked stays failed until the next check")
    }
}
