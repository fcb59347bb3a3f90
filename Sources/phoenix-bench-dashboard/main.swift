import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixState
import PhoenixTesting

/// `phoenix-bench-dashboard GUESTS RULES STACKS CERTS RUNS [REQUESTS]`: the dashboard's pages over
/// the state of a synthetic estate, measured inside the agent's request handler (server-side, no
/// socket): a SQLite state store with RUNS recorded runs (the newest with one resource per
/// resource of the estate, at most 1,000), the estate status a drift check leaves (2 % drifted),
/// the guests, stacks (three services each) and certificates as the agent reads them (a tenth of
/// the guests stopped, a tenth of the stacks not converged), a signed-in session. Prints each page's size and its time over REQUESTS requests (p50, p99).
let numbers = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let shape = numbers.count >= 5 ? Array(numbers.prefix(5)) : [1_000, 10_000, 200, 500, 1_000]
let requests = numbers.count >= 6 ? numbers[5] : 200

let sources = SyntheticEstate(guests: shape[0], rules: shape[1], stacks: shape[2], certificates: shape[3]).sources()
let loaded = EstateLoader().load(sources)
guard let estate = loaded.estate else {
    print("the synthetic estate is invalid")
    exit(1)
}

// Every resource of the estate with its stage and kind, as the drift check's graph would place them.
var stageOf: [String: SyncStage] = [:]
var kindOf: [String: String] = [:]
for resource in DesiredState(estate: estate, stages: FileKind().stages, nodeName: "pve").resources {
    stageOf[resource.id] = resource.stage
    kindOf[resource.id] = "file"
}
for guest in estate.guests { (stageOf["guest:\(guest.id)"], kindOf["guest:\(guest.id)"]) = (.guests, "guest-settings") }
for index in 0..<shape[2] { (stageOf["stack:production/s\(index)"], kindOf["stack:production/s\(index)"]) = (.stacks, "stack") }
for index in 0..<shape[3] { (stageOf["cert:c\(index)"], kindOf["cert:c\(index)"]) = (.certs, "cert") }
let ids = stageOf.keys.sorted()
let drifted = ids.enumerated().filter { $0.offset % 50 == 0 }.map(\.element)
let commit = String(repeating: "c", count: 40)
let status = EstateStatus(
    commit: commit, checked: Date(), stageOf: stageOf, kindOf: kindOf,
    drifts: [KindDrift(kind: "file", findings: drifted.map { DriftFinding(id: $0, kind: kindOf[$0] ?? "file", state: .changedByHand, detail: "mode 0600") })],
    notApplied: [])

// The state store: RUNS runs, the newest with its resources.
let directory = try TemporaryDirectory("phoenix-bench-dashboard")
let store = try StateStore(path: directory.file("state.sqlite"))
let token = "bench-token"
try directory.write("tokens", "operate bench \(WebhookSigning.sha256Hex(token))\n")
let resources = ids.prefix(1_000).map { id in
    JSONValue.object([
        ("id", .string(id)), ("kind", .string(kindOf[id] ?? "file")), ("outcome", .string("converged")),
        ("reasons", .array([.string("\(id): the configuration changed")])), ("seconds", .number(0.25)),
    ])
}
let details = JSONWriter(sortedKeys: false, pretty: false).string(
    .object([("version", .number(1)), ("subject", .string("bench")), ("resources", .array(resources))]))
let started = Date()
var newest: Int64 = 0
for index in 0..<shape[4] {
    let trigger = index % 3 == 0 ? RunTrigger(.webhook, provider: "gitea", delivery: "d-\(index)") : RunTrigger(.poll)
    let run = try store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: trigger)
    _ = try store.beginRun(queued: run, pid: getpid())
    try store.annotateRun(run, commit: commit, previousCommit: commit, details: index == shape[4] - 1 ? details : nil)
    // One run in five changed the stacks (the filter by stage reads through the pages for them).
    try store.finishRun(
        run, outcome: index % 10 == 0 ? .failed : .noChanges, summary: "run \(index): no changes", stages: index % 5 == 0 ? [.stacks] : [])
    newest = run
}
let seeded = Date().timeIntervalSince(started)

// The agent and its dashboard, as `phoenix agent` builds them, with a repository that never moves.
struct PinnedHead: GitRemote {
    func head(branch: String) async throws(GitError) -> String { String(repeating: "c", count: 40) }
    func checkout(_ commit: String, branch: String) async throws(GitError) -> GitTree {
        throw GitError(operation: "checkout", reason: .failed, message: "not in the benchmark")
    }
    func verifySignatures(from: String?, to: String) async throws(GitError) {}
}
let services = AgentServices(
    load: { _, _ in EstateLoader().load(sources) },
    lease: { _, _, _ in throw GitError(operation: "lease", reason: .failed, message: "not in the benchmark") })
let runner = CommitRunner(settings: .init(branch: "main"), git: PinnedHead(), store: store, services: services)
let agent = Agent(settings: .init(estateName: "bench"), runner: runner, store: store)
await agent.adopt(status)
let now = Date()
let guestRows = estate.guests.enumerated().map { index, guest in
    GuestStatus.Row(
        id: guest.id, kind: guest.kind == .lxc ? "lxc" : "vm", name: guest.name, status: index % 10 == 0 ? "stopped" : "running", node: "pve", notes: [],
        shouldRun: true)
}
let stackRows = (0..<shape[2]).map { index in
    StacksStatus.Stack(
        resource: "stack:production/s\(index)", namespace: "s\(index)", configured: true, lastDeployRun: newest, specHash: "0123456789ab",
        health: index % 10 == 0 ? "not converged" : "converged",
        services: (0..<3).map { service in
            StacksStatus.Service(
                name: "s\(index)_svc\(service)", image: "registry.internal/app\(service):1.\(index)", desired: 2, running: index % 10 == 0 ? 1 : 2,
                updateState: "completed", specHash: "0123456789ab", converged: index % 10 != 0)
        })
}
let certificateRows = (0..<shape[3]).map { index in
    let expires = now.addingTimeInterval(Double(index % 90 + 1) * 86400)
    let facts = CertificateFacts(
        commonName: "c\(index).internal", dnsNames: ["c\(index).internal"], ipAddresses: [], serial: String(index, radix: 16), notBefore: now,
        notAfter: expires, issuer: "Phoenix CA", fingerprint: String(repeating: "ab", count: 32))
    return CertsStatus.Certificate(
        name: "c\(index)", commonName: "c\(index).internal", dnsNames: ["c\(index).internal"], ipAddresses: ["10.0.\(index / 250).\(index % 250)"],
        facts: facts, secondsLeft: Int(expires.timeIntervalSince(now)), state: "valid", reasons: [],
        installed: [
            CertsStatus.Copy(
                machine: "guest 101", path: "/etc/ssl/c\(index).pem", role: "certificate", present: true, owner: "root", group: "root", mode: "0644",
                configured: "root:root 0644")
        ], served: [CertsStatus.Served(at: "10.0.0.1:443", what: "the gateway", fingerprint: String(repeating: "ab", count: 32), matches: true)])
}
await agent.adopt(
    EstateReadings(
        guests: .read(GuestStatus(rows: guestRows), at: now), stacks: .read(StacksStatus(stacks: stackRows), at: now),
        certificates: .read(CertsStatus(certificates: certificateRows), at: now)))
let access = try AgentAccess(tokensFile: directory.file("tokens"), webhookSecretFile: nil, branch: "main")
let sessions = DashboardSessions()
let dashboard = Dashboard(agent: agent, store: store, access: access, sessions: sessions, anonymousRead: false, secureCookies: false)
let api = AgentAPI(agent: agent, store: store, access: access, dashboard: dashboard)
let signIn = await api.handle(APIRequest(method: "POST", path: "/login", body: Array("token=\(token)".utf8)))
guard let cookie = signIn.headers["Set-Cookie"]?.split(separator: ";").first.map(String.init) else {
    print("cannot sign in: \(signIn.status)")
    exit(1)
}

func measure(_ path: String, _ query: [String: String] = [:]) async -> (bytes: Int, p50: Double, p99: Double, status: Int) {
    var times: [Double] = []
    var answer = APIResponse(status: 0, body: [])
    for _ in 0..<requests {
        let start = DispatchTime.now().uptimeNanoseconds
        answer = await api.handle(APIRequest(method: "GET", path: path, query: query, headers: [("Cookie", cookie)]))
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    times.sort()
    return (answer.body.count, times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))], answer.status)
}

print(
    "estate: \(shape[0]) guests, \(shape[1]) rules, \(shape[2]) stacks, \(shape[3]) certificates; \(ids.count) resources, \(drifted.count) drifted; "
        + "\(shape[4]) runs recorded (\(String(format: "%.1f", seeded)) s to seed the store)")
/// Issue 18's budgets: the overview at most 60 KB and 50 ms p99; a run page under 300 KB; no page
/// is an error. A page over its budget fails the benchmark (exit 1), not only its figure.
var over: [String] = []
for (label, path, query, bytes, p99) in [
    ("overview /", "/", [:], 61_440, 50.0), ("runs /runs (50 a page)", "/runs", [:], nil, nil),
    ("runs filtered (failed)", "/runs", ["outcome": "failed"], nil, nil),
    ("run page (\(min(1_000, ids.count)) resources)", "/runs/\(newest)", [:], 307_200, nil), ("drift /drift", "/drift", [:], nil, nil),
    ("guests /guests (50 a page)", "/guests", [:], nil, nil), ("stacks /stacks (50 a page)", "/stacks", [:], nil, nil),
    ("certificates /certificates (50 a page)", "/certificates", [:], nil, nil), ("runs by stage (stacks)", "/runs", ["stage": "stacks"], nil, nil),
] as [(String, String, [String: String], Int?, Double?)] {
    let result = await measure(path, query)
    print(
        "  \(label): \(result.bytes) bytes (\(String(format: "%.1f", Double(result.bytes) / 1024)) KB), "
            + "p50 \(String(format: "%.2f", result.p50)) ms, p99 \(String(format: "%.2f", result.p99)) ms over \(requests) requests, HTTP \(result.status)")
    if result.status != 200 { over.append("\(label): HTTP \(result.status)") }
    if let bytes, result.bytes > bytes { over.append("\(label): \(result.bytes) bytes, over \(bytes)") }
    if let p99, result.p99 > p99 { over.append("\(label): p99 \(String(format: "%.2f", result.p99)) ms, over \(Int(p99)) ms") }
}
if !over.isEmpty {
    print("OVER BUDGET: " + over.joined(separator: "; "))
    exit(1)
}
