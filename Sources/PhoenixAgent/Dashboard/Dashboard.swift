import Foundation
import PhoenixCore
import PhoenixServices

/// The dashboard: server-rendered pages over what the agent knows (its estate status, the state
/// store's runs), beside the API in the same server. Pages need a session (the login form takes a
/// token of the tokens file) unless the agent runs with `--anonymous-read`; every form that changes
/// something needs a session with the `operate` role and the session's CSRF token, and anything
/// else gets 403. The `/api/v1` calls never take the cookie: they stay bearer-token only.
public struct Dashboard: Sendable {
    public let agent: Agent
    public let store: any StateBackend
    public let access: AgentAccess
    public let sessions: DashboardSessions
    public let anonymousRead: Bool
    /// Cookies are marked Secure (the agent serves TLS).
    public let secureCookies: Bool

    /// Rows of a list page.
    static let pageSize = 50

    public init(agent: Agent, store: any StateBackend, access: AgentAccess, sessions: DashboardSessions, anonymousRead: Bool, secureCookies: Bool) {
        self.agent = agent
        self.store = store
        self.access = access
        self.sessions = sessions
        self.anonymousRead = anonymousRead
        self.secureCookies = secureCookies
    }

    /// The answer to a dashboard route; nil when the path is not one.
    public func handle(_ request: APIRequest) async -> APIResponse? {
        let parts = request.path.split(separator: "/").map(String.init)
        switch (request.method, parts) {
        case ("GET", ["assets", "phoenix.css"]):
            return APIResponse(
                status: 200, contentType: "text/css; charset=utf-8", body: Array(Stylesheet.css.utf8), headers: ["Cache-Control": "public, max-age=3600"])
        case ("GET", ["assets", "live.js"]):
            return APIResponse(
                status: 200, contentType: "text/javascript; charset=utf-8", body: Array(LiveScript.javascript.utf8),
                headers: ["Cache-Control": "public, max-age=3600"])
        case ("GET", let path) where path.count == 3 && path[0] == "runs" && path[2] == "events":
            return await read(request) { _ in await events(path[1]) }
        case ("GET", ["login"]):
            return page(200, LoginPage.render(estate: agent.settings.estateName, error: nil, held: sessions.loginsHeld()))
        case ("POST", ["login"]):
            return login(request)
        case ("POST", ["logout"]):
            return logout(request)
        case ("GET", []), ("GET", ["runs"]), ("GET", ["drift"]), ("GET", ["certificates"]), ("GET", ["stacks"]), ("GET", ["guests"]), ("GET", ["graph"]):
            return await read(request) { viewer in await view(parts.first ?? "", request, viewer) }
        case ("GET", let path) where path.count == 2 && path[0] == "runs":
            return await read(request) { viewer in await run(path[1], viewer) }
        case ("POST", ["sync"]):
            return await operate(request) { identity in
                do {
                    let ticket = try await agent.submit(RunQueue.Request(RunTrigger(.api, actor: identity.name)))
                    return redirect("/runs/\(ticket.run)")
                } catch {
                    return failure(503, "\(error)")
                }
            }
        case ("POST", let path) where path.count == 3 && path[0] == "runs" && ["approve", "discard"].contains(path[2]):
            return await operate(request) { identity in
                guard let id = Int64(path[1]) else { return failure(404, "no run \(path[1])") }
                do throws(AgentRefusal) {
                    if path[2] == "approve" {
                        let ticket = try await agent.approve(id, by: identity.name)
                        return redirect("/runs/\(ticket.run)")
                    }
                    try await agent.discard(id, by: identity.name)
                    return redirect("/runs/\(id)")
                } catch {
                    return failure(error.status, error.message)
                }
            }
        default:
            return nil
        }
    }

    // MARK: Access

    /// A page for whoever may read: a session, or anyone with `--anonymous-read`; else the login.
    private func read(_ request: APIRequest, _ body: (Viewer) async -> APIResponse) async -> APIResponse {
        if let session = session(request) { return await body(Viewer(identity: session.identity, csrf: session.csrf)) }
        if anonymousRead { return await body(Viewer(identity: nil, csrf: nil)) }
        return redirect("/login")
    }

    /// A state-changing form: a session with the `operate` role, and its CSRF token in the form.
    private func operate(_ request: APIRequest, _ body: (Identity) async -> APIResponse) async -> APIResponse {
        guard let session = session(request) else { return failure(403, "sign in with a token of the operate role first") }
        let form = FormData.fields(request.body)
        guard let csrf = form["csrf"], ConstantTime.equal(Array(csrf.utf8), Array(session.csrf.utf8)) else {
            return failure(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        }
        guard session.identity.role.allows(.operate) else {
            return failure(403, "\(session.identity.name) has the \(session.identity.role.rawValue) role; this needs operate")
        }
        return await body(session.identity)
    }

    private func session(_ request: APIRequest) -> DashboardSessions.Session? {
        sessions.session(FormData.cookie(DashboardSessions.cookie, in: request.header("Cookie"))) { access.identity(digest: $0) }
    }

    private func login(_ request: APIRequest) -> APIResponse {
        let estate = agent.settings.estateName
        guard !sessions.loginsHeld() else {
            return page(429, LoginPage.render(estate: estate, error: "Too many failed sign-ins: wait five minutes.", held: true))
        }
        guard let token = FormData.fields(request.body)["token"], let identity = access.identity(token: token) else {
            sessions.failedLogin()
            return page(401, LoginPage.render(estate: estate, error: "That token is not in the agent's tokens file.", held: false))
        }
        let (cookie, _) = sessions.open(identity, credential: AccessTokens.digest(token))
        var response = redirect("/")
        response.headers["Set-Cookie"] =
            "\(DashboardSessions.cookie)=\(cookie); Path=/; Max-Age=\(Int(sessions.maxAge)); HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
        return response
    }

    private func logout(_ request: APIRequest) -> APIResponse {
        let cookie = FormData.cookie(DashboardSessions.cookie, in: request.header("Cookie"))
        guard let session = session(request) else { return redirect("/login") }
        guard let csrf = FormData.fields(request.body)["csrf"], ConstantTime.equal(Array(csrf.utf8), Array(session.csrf.utf8)) else {
            return failure(403, "the form's CSRF token is missing or wrong")
        }
        sessions.close(cookie)
        var response = redirect("/login")
        response.headers["Set-Cookie"] = "\(DashboardSessions.cookie)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
        return response
    }

    // MARK: Pages

    private func view(_ section: String, _ request: APIRequest, _ viewer: Viewer) async -> APIResponse {
        let estate = agent.settings.estateName
        switch section {
        case "runs":
            return await runs(request, viewer)
        case "drift":
            let status = await agent.status
            return page(200, Layout.page(title: "Drift", section: "/drift", viewer: viewer, estate: estate, main: DriftPage.render(status, selfHeal: false)))
        case "graph":
            let stage = request.query["stage"].flatMap(KindRegistry.standard.stage(named:))
            let main = GraphPage.render(await agent.status, stage: stage)
            return page(
                200, Layout.page(title: stage.map { "Graph: \($0.rawValue)" } ?? "Graph", section: "/graph", viewer: viewer, estate: estate, main: main))
        case "certificates":
            let main = CertificatesPage.render(await agent.readings.certificates, page: request.query["page"])
            return page(200, Layout.page(title: "Certificates", section: "/certificates", viewer: viewer, estate: estate, main: main))
        case "stacks":
            // The commit of the run that last deployed each stack of the page: one read each.
            let reading = await agent.readings.stacks
            var commits: [Int64: String] = [:]
            for run in Set((reading?.status?.stacks ?? []).compactMap(\.lastDeployRun)) {
                let record: RunRecord? = (try? await store.run(run)) ?? nil
                if let commit = record?.commit { commits[run] = commit }
            }
            let main = StacksPage.render(reading, page: request.query["page"]) { commits[$0] }
            return page(200, Layout.page(title: "Stacks", section: "/stacks", viewer: viewer, estate: estate, main: main))
        case "guests":
            let main = GuestsPage.render(await agent.readings.guests, page: request.query["page"])
            return page(200, Layout.page(title: "Guests", section: "/guests", viewer: viewer, estate: estate, main: main))
        default:
            return page(
                200, Layout.page(title: "Overview", section: "/", viewer: viewer, estate: estate, main: OverviewPage.render(await overview(), viewer: viewer)))
        }
    }

    private func overview() async -> OverviewPage.Model {
        let recent = await (try? store.runs(limit: Self.pageSize, before: nil)) ?? []
        let finished = recent.first { $0.outcome != "queued" }
        let waiting = recent.filter { $0.outcome == RunOutcome.waitingForApproval.rawValue }
        return OverviewPage.Model(
            estate: agent.settings.estateName, status: await agent.status, lastRun: finished, waiting: waiting, health: await agent.health(),
            lastWebhook: await agent.lastWebhookAccepted, queue: await agent.queue.state, runningCommit: await agent.runningCommit,
            readings: await agent.readings)
    }

    /// 50 runs a page, filtered by outcome, trigger and stage (`RunFilter`).
    private func runs(_ request: APIRequest, _ viewer: Viewer) async -> APIResponse {
        let filter: RunFilter
        do throws(RunFilterError) { filter = try RunFilter(query: request.query) } catch { return failure(400, error.description) }
        guard let (shown, next) = try? await filter.page(store, limit: Self.pageSize, before: request.query["before"].flatMap(Int64.init)) else {
            return failure(500, "the state store cannot be read")
        }
        let model = RunsPage.Model(runs: shown, filter: filter, next: next)
        return page(
            200, Layout.page(title: "Runs", section: "/runs", viewer: viewer, estate: agent.settings.estateName, main: RunsPage.render(model, viewer: viewer)))
    }

    private func run(_ text: String, _ viewer: Viewer) async -> APIResponse {
        guard let id = Int64(text), let record = try? await store.run(id) else { return failure(404, "no run \(text)") }
        let details = (try? await store.runDetails(id))?.flatMap(RunDetails.decode)
        return page(
            200,
            Layout.page(
                title: "Run \(id)", section: "/runs", viewer: viewer, estate: agent.settings.estateName,
                main: RunPage.render(record, details: details, viewer: viewer)))
    }

    /// `GET /runs/{id}/events`: the run's resources as they settle, its progress lines and its end,
    /// as server-sent events (`event: resource`, `event: log` and `event: ended`, JSON data). A run that has ended answers its
    /// end at once.
    private func events(_ text: String) async -> APIResponse {
        guard let id = Int64(text) else { return failure(404, "no run \(text)") }
        // Watch first, then look: a run that ends in between is still told.
        let watched = agent.events.watch(id)
        guard let record = try? await store.run(id) else { return failure(404, "no run \(id)") }
        let headers = ["Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"]
        guard record.finishedAt == nil else {
            let ended = Self.event("ended", .object([("outcome", .string(record.outcome)), ("summary", .string(record.summary))]))
            return APIResponse(status: 200, contentType: "text/event-stream", body: ended, headers: headers)
        }
        let stream = AsyncStream<[UInt8]> { continuation in
            let task = Task {
                for await event in watched {
                    switch event {
                    case let .resource(resource):
                        var members: [(key: String, value: JSONValue)] = [
                            ("id", .string(resource.id)), ("kind", .string(resource.kind)), ("outcome", .string(resource.outcome)),
                        ]
                        if let reason = resource.reason { members.append(("reason", .string(reason))) }
                        continuation.yield(Self.event("resource", .object(members)))
                    case let .log(line):
                        continuation.yield(Self.event("log", .object([("line", .string(line))])))
                    case let .ended(outcome, summary):
                        continuation.yield(Self.event("ended", .object([("outcome", .string(outcome)), ("summary", .string(summary))])))
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        var response = APIResponse(status: 200, contentType: "text/event-stream", body: Array("retry: 3000\n\n".utf8), headers: headers)
        response.stream = stream
        return response
    }

    static func event(_ name: String, _ data: JSONValue) -> [UInt8] {
        Array("event: \(name)\ndata: \(JSONWriter(sortedKeys: false, pretty: false).string(data))\n\n".utf8)
    }

    // MARK: Answers

    /// Every page: no caching, no framing, nothing from elsewhere.
    static let pageHeaders = [
        "Cache-Control": "no-store",
        "Content-Security-Policy":
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    ]

    private func page(_ status: Int, _ html: HTML) -> APIResponse {
        APIResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(html.text.utf8), headers: Self.pageHeaders)
    }

    private func redirect(_ location: String) -> APIResponse {
        APIResponse(
            status: 303, contentType: "text/plain; charset=utf-8", body: Array("see \(location)\n".utf8),
            headers: Self.pageHeaders.merging(["Location": location]) { $1 })
    }

    private func failure(_ status: Int, _ message: String) -> APIResponse {
        let html: HTML = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(status) · phoenix</title><link rel="stylesheet" href="/assets/phoenix.css"></head>
            <body><main id="main"><h1>\(status)</h1><p class="error" role="alert">\(message)</p><p><a href="/">Back to the overview</a></p></main></body></html>

            """
        return page(status, html)
    }
}
