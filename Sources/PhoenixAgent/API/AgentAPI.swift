import Foundation
import PhoenixCore
import PhoenixServices

/// One HTTP request as the agent's API sees it: the server (Hummingbird) hands these over and
/// writes back the response, so everything the API decides is tested without a socket.
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The body was longer than the server reads (`AgentAPI.bodyLimit`).
    public var bodyTooLarge: Bool

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        bodyTooLarge: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }

    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

public struct APIResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Headers beyond the content type (`Set-Cookie`, `Location`, `Cache-Control` …).
    public var headers: [String: String]
    /// A body written as it comes (server-sent events) after `body`, until the stream ends.
    public var stream: AsyncStream<[UInt8]>?

    public static func == (lhs: APIResponse, rhs: APIResponse) -> Bool {
        lhs.status == rhs.status && lhs.contentType == rhs.contentType && lhs.body == rhs.body && lhs.headers == rhs.headers
            && (lhs.stream == nil) == (rhs.stream == nil)
    }

    public init(status: Int, contentType: String = "application/json", body: [UInt8], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    static func json(_ status: Int, _ value: JSONValue) -> APIResponse {
        APIResponse(status: status, body: Array((JSONWriter(sortedKeys: false, pretty: false).string(value) + "\n").utf8))
    }

    static func error(_ status: Int, _ message: String) -> APIResponse { json(status, .object([("error", .string(message))])) }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The agent's HTTP API, version 1: health, metrics, webhooks, the runs, sync and approve.
///
/// `GET /healthz` needs no token; `GET /metrics` and every `GET /api/v1/…` need the `read` role
/// (or `--anonymous-read`); the POST calls need `operate`. A webhook is authenticated by its
/// signature instead, and only says "look now": the agent decides from the repository.
public struct AgentAPI: Sendable {
    /// The most a request body may hold (a webhook's payload included).
    public static let bodyLimit = 1 << 20

    public let agent: Agent
    public let store: any StateBackend
    public let access: AgentAccess
    public let deliveries: RecentDeliveries
    public let anonymousRead: Bool
    /// The dashboard's pages, served beside the API (nil: none).
    public let dashboard: Dashboard?

    public init(
        agent: Agent, store: any StateBackend, access: AgentAccess, deliveries: RecentDeliveries = RecentDeliveries(), anonymousRead: Bool = false,
        dashboard: Dashboard? = nil
    ) {
        self.agent = agent
        self.store = store
        self.access = access
        self.deliveries = deliveries
        self.anonymousRead = anonymousRead
        self.dashboard = dashboard
    }

    public func handle(_ request: APIRequest) async -> APIResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        if request.method == "POST", !["login", "logout"].contains(parts.first ?? ""), let refusal = await standbyRefusal() { return refusal }
        switch (request.method, parts) {
        case ("GET", ["healthz"]):
            return await health()
        case ("GET", ["metrics"]):
            if let refusal = authorize(request, .read) { return refusal }
            return APIResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(agent.metrics.render().utf8))
        case ("POST", let path) where path.count == 2 && path[0] == "hooks":
            return await webhook(request, provider: path[1])
        case ("GET", ["api", "v1", "runs"]):
            if let refusal = authorize(request, .read) { return refusal }
            return await runs(request)
        case ("GET", let path) where path.count == 4 && path.starts(with: ["api", "v1", "runs"]):
            if let refusal = authorize(request, .read) { return refusal }
            return await run(path[3])
        case ("GET", let path)
        where path.count == 3 && path.starts(with: ["api", "v1"])
            && ["status", "drift", "certificates", "stacks", "guests", "graph"].contains(path[2]):
            if let refusal = authorize(request, .read) { return refusal }
            return await estate(path[2])
        case ("POST", ["api", "v1", "sync"]):
            if let refusal = authorize(request, .operate) { return refusal }
            return await sync(request)
        case ("POST", let path) where path.count == 5 && path.starts(with: ["api", "v1", "runs"]) && path[4] == "approve":
            if let refusal = authorize(request, .operate) { return refusal }
            return await approve(path[3], request)
        case ("POST", let path) where path.count == 5 && path.starts(with: ["api", "v1", "runs"]) && path[4] == "discard":
            if let refusal = authorize(request, .operate) { return refusal }
            guard let id = Int64(path[3]) else { return .error(404, "no run \(path[3])") }
            do { try await agent.discard(id, by: identity(request)) } catch { return .error(error.status, error.message) }
            return .json(200, .object([("run", .number(Double(id))), ("outcome", .string(RunOutcome.discarded.rawValue))]))
        case (_, let path) where ["healthz", "metrics", "hooks", "api"].contains(path.first ?? ""):
            return .error(405, "\(request.method) is not allowed on \(request.path)")
        default:
            if let dashboard, let answer = await dashboard.handle(request) { return answer }
            return .error(404, "no such resource: \(request.path)")
        }
    }

    // MARK: Access

    /// Nil when the caller may; else the answer (401 without a valid token, 403 with a token whose
    /// role is short).
    private func authorize(_ request: APIRequest, _ needed: Role) -> APIResponse? {
        if needed == .read && anonymousRead { return nil }
        guard let identity = access.identity(authorization: request.header("Authorization")) else {
            return .error(401, "a bearer token with the \(needed.rawValue) role is needed")
        }
        guard identity.role.allows(needed) else { return .error(403, "\(identity.name) has the \(identity.role.rawValue) role; this needs \(needed.rawValue)") }
        return nil
    }

    private func identity(_ request: APIRequest) -> String? { access.identity(authorization: request.header("Authorization"))?.name }

    // MARK: Health

    /// A standby serves reads (and signing in to them); the work goes to the active agent.
    private func standbyRefusal() async -> APIResponse? {
        guard case let .standby(active) = await agent.role else { return nil }
        return .error(503, "this agent is on standby: " + (active.map { "the active agent is \($0)" } ?? "no agent is active right now"))
    }

    private func health() async -> APIResponse {
        let health = await agent.health()
        var members: [(key: String, value: JSONValue)] = [
            ("healthy", .bool(health.healthy)), ("reason", .string(health.reason)), ("role", .string(health.role.name)),
        ]
        if case let .standby(active?) = health.role {
            members.append(
                ("active_agent", .object([("host", .string(active.host)), ("pid", .number(Double(active.pid))), ("address", .string(active.address))])))
        }
        if let last = health.lastSuccessfulPoll { members.append(("last_successful_poll", .string(Self.timestamp(last)))) }
        return .json(health.healthy ? 200 : 503, .object(members))
    }

    // MARK: Webhooks

    private func webhook(_ request: APIRequest, provider name: String) async -> APIResponse {
        guard let provider = WebhookProvider(pathComponent: name) else { return .error(404, "no webhook provider \(name): use github, gitea or gitlab") }
        guard let verifier = access.verifier else {
            agent.metrics.webhook(provider: provider.rawValue, result: "unauthorized")
            return .error(401, "webhooks are off: the agent has no --webhook-secret-file")
        }
        if request.bodyTooLarge {
            agent.metrics.webhook(provider: provider.rawValue, result: "too_large")
            return .error(413, "the payload is over \(Self.bodyLimit) bytes")
        }
        let verdict = verifier.verify(provider, headers: request.headers, body: request.body)
        guard case let .accepted(push) = verdict else {
            agent.metrics.webhook(provider: provider.rawValue, result: verdict.result)
            if case .ignored = verdict { return .json(202, .object([("ignored", .string(verdict.reason))])) }
            return .error(verdict.status, verdict.reason)
        }
        if let delivery = push.delivery, case let .duplicate(run) = deliveries.claim(delivery) {
            agent.metrics.webhook(provider: provider.rawValue, result: "duplicate")
            return .json(200, .object([("duplicate", .bool(true)), ("run", run.flatMap(Int64.init).map { .number(Double($0)) } ?? .null)]))
        }
        do {
            let ticket = try await agent.submit(RunQueue.Request(RunTrigger(.webhook, provider: provider.rawValue, delivery: push.delivery)))
            if let delivery = push.delivery { deliveries.assign(run: String(ticket.run), to: delivery) }
            agent.metrics.webhook(provider: provider.rawValue, result: "accepted")
            await agent.webhookAccepted()
            return .json(202, .object([("run", .number(Double(ticket.run))), ("joined", .bool(ticket.joined))]))
        } catch {
            agent.metrics.webhook(provider: provider.rawValue, result: "refused")
            return .error(503, error.description)
        }
    }

    // MARK: Runs

    private func runs(_ request: APIRequest) async -> APIResponse {
        let limit = min(200, max(1, Int(request.query["limit"] ?? "") ?? 50))
        let before = request.query["before"].flatMap(Int64.init)
        let filter: RunFilter
        do throws(RunFilterError) { filter = try RunFilter(query: request.query) } catch { return .error(400, error.description) }
        do {
            let (runs, next) = try await filter.page(store, limit: limit, before: before)
            var members: [(key: String, value: JSONValue)] = [("version", .number(1)), ("runs", .array(runs.map(Self.json)))]
            if let next { members.append(("next", .number(Double(next)))) }
            return .json(200, .object(members))
        } catch {
            return .error(500, "the state store: \(error)")
        }
    }

    private func run(_ text: String) async -> APIResponse {
        guard let id = Int64(text) else { return .error(404, "no run \(text)") }
        do {
            guard let record = try await store.run(id) else { return .error(404, "no run \(id)") }
            var document = Self.json(record).adding("version", .number(1))
            if let details = try await store.runDetails(id).flatMap(RunDetails.decode) {
                if let plan = details.plan { document = document.adding("plan", plan) }
                document = document.adding("resources", details.json["resources"] ?? .array([]))
                if !details.diagnostics.isEmpty { document = document.adding("diagnostics", .array(details.diagnostics.map(JSONValue.string))) }
                if let subject = details.subject { document = document.adding("subject", .string(subject)) }
                if !details.log.isEmpty { document = document.adding("log", .array(details.log.map(JSONValue.string))) }
            } else {
                document = document.adding("resources", .array([]))
            }
            return .json(200, document)
        } catch {
            return .error(500, "the state store: \(error)")
        }
    }

    // MARK: Operate

    private func sync(_ request: APIRequest) async -> APIResponse {
        var stages: [SyncStage]?
        if !request.body.isEmpty {
            guard let body = try? JSONParser.parse(request.body).value, case .object = body else { return .error(400, "the body is not a JSON object") }
            if let listed = body["stages"] {
                let names = listed.arrayItems.compactMap(\.stringValue)
                let parsed = names.compactMap(KindRegistry.standard.stage(named:))
                guard !names.isEmpty, parsed.count == names.count, names.count == listed.arrayItems.count else {
                    return .error(400, "stages: a list of stage names (\(KindRegistry.standard.stages.map(\.rawValue).joined(separator: ", ")))")
                }
                stages = parsed
            }
        }
        do {
            let ticket = try await agent.submit(RunQueue.Request(RunTrigger(.api, actor: identity(request)), stages: stages))
            return .json(202, .object([("run", .number(Double(ticket.run))), ("joined", .bool(ticket.joined))]))
        } catch {
            return .error(503, error.description)
        }
    }

    private func approve(_ text: String, _ request: APIRequest) async -> APIResponse {
        guard let id = Int64(text) else { return .error(404, "no run \(text)") }
        do {
            let ticket = try await agent.approve(id, by: identity(request))
            return .json(202, .object([("run", .number(Double(ticket.run))), ("approves", .number(Double(id)))]))
        } catch {
            return .error(error.status, error.message)
        }
    }

    // MARK: JSON

    static func json(_ run: RunRecord) -> JSONValue {
        var trigger: [(key: String, value: JSONValue)] = [("kind", .string(run.trigger?.kind.rawValue ?? RunTrigger.Kind.cli.rawValue))]
        if let provider = run.trigger?.provider { trigger.append(("provider", .string(provider))) }
        if let delivery = run.trigger?.delivery { trigger.append(("delivery", .string(delivery))) }
        if let actor = run.trigger?.actor { trigger.append(("actor", .string(actor))) }
        if let approves = run.trigger?.approves { trigger.append(("approves", .number(Double(approves)))) }
        return .object([
            ("id", .number(Double(run.id))), ("trigger", .object(trigger)), ("commit", run.commit.map(JSONValue.string) ?? .null),
            ("previous_commit", run.previousCommit.map(JSONValue.string) ?? .null), ("outcome", .string(run.outcome)),
            ("summary", .string(run.summary)), ("started", .string(timestamp(run.startedAt))),
            ("finished", run.finishedAt.map { .string(timestamp($0)) } ?? .null), ("stages", .array(run.stages.map { .string($0.rawValue) })),
        ])
    }

    static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }
}
