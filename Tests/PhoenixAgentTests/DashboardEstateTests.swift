import Foundation
import PhoenixCore
import PhoenixServices
import Testing

@testable import PhoenixAgent

/// The pages over what the agent read of the estate (the guests, the stacks, the certificates),
/// the overview's lists of what is not as it should be, the runs by stage, the live log, and each
/// page's data from the API. The readings are adopted as a drift check leaves them; the browser
/// tests read them from the lab's real Swarm and fakepve.
@Suite("The dashboard: guests, stacks, certificates, runs by stage, the pages as JSON")
struct DashboardEstateTests {
    typealias Setup = DashboardTests.Setup
    static let read = Date(timeIntervalSince1970: 1_800_000_000)

    static var guests: GuestStatus {
        GuestStatus(rows: [
            .init(id: 101, kind: "lxc", name: "dns", status: "running", node: "pve", notes: [], shouldRun: true),
            .init(id: 102, kind: "lxc", name: "gateway", status: "stopped", node: "pve", notes: ["changed on the cluster since run 4"], shouldRun: true),
            .init(id: 103, kind: "vm", name: "swarm", status: "absent", node: "-", notes: [], shouldRun: true),
            .init(id: 900, kind: "vm", name: "base", status: "stopped", node: "pve", notes: ["template"]),
        ])
    }

    static var stacks: StacksStatus {
        StacksStatus(stacks: [
            .init(
                resource: "stack:production/web", namespace: "web", configured: true, lastDeployRun: 7, specHash: "abc", health: "not converged",
                services: [
                    .init(name: "web_app", image: "nginx:1.27", desired: 3, running: 1, updateState: "updating", specHash: "abc", converged: false)
                ]),
            .init(
                resource: "stack:production/db", namespace: "db", configured: true, lastDeployRun: nil, specHash: nil, health: "converged",
                services: [.init(name: "db_main", image: "postgres:16", desired: 1, running: 1, updateState: nil, specHash: nil, converged: true)]),
        ])
    }

    static func certificates(now: Date) -> CertsStatus {
        let facts = CertificateFacts(
            commonName: "web.internal", dnsNames: ["web.internal"], ipAddresses: [], serial: "0a", notBefore: now.addingTimeInterval(-86400),
            notAfter: now.addingTimeInterval(10 * 86400), issuer: "Phoenix CA", fingerprint: "ff00")
        return CertsStatus(certificates: [
            .init(
                name: "web.internal", commonName: "web.internal", dnsNames: ["web.internal"], ipAddresses: ["10.0.0.5", "fd00::5"], facts: facts,
                secondsLeft: 10 * 86400, state: "renew due", reasons: ["inside its renewal window"],
                installed: [
                    .init(
                        machine: "host", path: "/etc/nginx/tls/web.pem", role: "certificate", present: true, owner: "root", group: "root", mode: "0644",
                        configured: "root:root 0644", error: nil)
                ], servingProblem: nil, served: [.init(at: "10.0.0.5:443", what: "the gateway", fingerprint: "ff00", matches: true, error: nil)])
        ])
    }

    @Test("/guests and /stacks render the readings (data-guest, data-stack, each service's replicas, the deploying run's commit); 50 rows a page")
    func guestsAndStacks() async throws {
        let setup = try await Setup(anonymousRead: true)
        #expect(await setup.get("/guests").text.contains("Not read yet"))
        let run = try setup.store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
        try setup.store.annotateRun(run, commit: String(repeating: "7", count: 40), previousCommit: nil, details: nil)
        var stacks = Self.stacks
        stacks.stacks[0].lastDeployRun = run
        await setup.agent.adopt(EstateReadings(guests: .read(Self.guests, at: Self.read), stacks: .read(stacks, at: Self.read)))

        let guests = await setup.get("/guests")
        #expect(guests.status == 200)
        #expect(guests.text.contains("<tr data-guest=\"102\" data-status=\"stopped\"><td>102</td><td>gateway</td>"), "\(guests.text)")
        #expect(guests.text.contains("changed on the cluster since run 4"))
        #expect(guests.text.contains("4 guests, 1 running"))
        let page = await setup.get("/stacks")
        #expect(page.text.contains("<section data-stack=\"web\" data-health=\"not converged\">"), "\(page.text)")
        #expect(page.text.contains("<tr data-service=\"web_app\">") && page.text.contains("<td>1/3</td><td>updating</td>"))
        #expect(
            page.text.contains(
                "deployed by <a href=\"/runs/\(run)\">run \(run)</a> at <code title=\"\(String(repeating: "7", count: 40))\">777777777777</code>"))
        #expect(page.text.contains("data-stack=\"db\" data-health=\"converged\"") && page.text.contains("never deployed by phoenix"))

        let many = GuestStatus(rows: (1...120).map { .init(id: $0, kind: "lxc", name: "g\($0)", status: "running", node: "pve", notes: [], shouldRun: true) })
        await setup.agent.adopt(EstateReadings(guests: .read(many, at: Self.read)))
        let first = await setup.get("/guests")
        #expect(first.text.components(separatedBy: "<tr data-guest=").count - 1 == 50)
        #expect(first.text.contains("href=\"/guests?page=2\" rel=\"next\"") && first.text.contains("Rows 1–50 of 120"))
        let last = await setup.get("/guests", query: ["page": "3"])
        #expect(last.text.components(separatedBy: "<tr data-guest=").count - 1 == 20 && last.text.contains("data-guest=\"120\""))
        #expect(!last.text.contains("rel=\"next\""))

        await setup.agent.adopt(EstateReadings(guests: .failed("GET /cluster/resources: connection refused", at: Self.read)))
        #expect(await setup.get("/guests").text.contains("could not be read at"))
        #expect(await setup.get("/guests").text.contains("GET /cluster/resources: connection refused"))
    }

    @Test("/certificates: each certificate's state, SANs (IPv6 too), where it is installed and served, the timeline; never key material")
    func certificatesPage() async throws {
        let setup = try await Setup(anonymousRead: true)
        await setup.agent.adopt(EstateReadings(certificates: .read(Self.certificates(now: Date()), at: Date())))
        let page = await setup.get("/certificates")
        #expect(page.text.contains("<tr data-certificate=\"web.internal\" data-state=\"renew due\">"), "\(page.text)")
        for fact in [
            "<code>fd00::5</code>", "host: <code>/etc/nginx/tls/web.pem</code> (certificate)", "10.0.0.5:443 (the gateway): serves it",
            "inside its renewal window", "<svg role=\"img\"", "days left)",
        ] {
            #expect(page.text.contains(fact), "\(fact)")
        }
        #expect(!page.text.contains("PRIVATE KEY"))
        let overview = await setup.get("/")
        #expect(overview.text.contains("<li data-certificate=\"web.internal\">web.internal: <span class=\"badge renew-due\">renew due</span>"))
        #expect(await setup.agent.certificateExpiries.keys.sorted() == ["web.internal"], "the metric's expiries come from the same reading")
    }

    @Test("the overview lists the stacks not converged and the guests not running (a template or a disabled guest is not missed)")
    func overviewLists() async throws {
        let setup = try await Setup(anonymousRead: true)
        let before = await setup.get("/")
        #expect(before.text.contains("<h2>Guests not running</h2>\n<p class=\"muted\">Not read yet"))
        // A drift check without a reading of the Swarm says nothing of replicas: not "as configured".
        await setup.agent.adopt(
            EstateStatus(commit: String(repeating: "a", count: 40), checked: Self.read, stageOf: [:], kindOf: [:], drifts: [], notApplied: []))
        let unread = await setup.get("/")
        #expect(
            !unread.text.contains("Every stack runs as configured") && unread.text.contains("<h2>Stacks not converged</h2>\n<p class=\"muted\">Not read yet"))
        await setup.agent.adopt(EstateReadings(guests: .read(Self.guests, at: Self.read), stacks: .read(Self.stacks, at: Self.read)))
        let overview = await setup.get("/")
        #expect(overview.text.contains("<li data-stack=\"web\">web: not converged (web_app 1/3)</li>"), "\(overview.text)")
        #expect(!overview.text.contains("<li data-stack=\"db\">"))
        #expect(overview.text.contains("<li data-guest=\"102\">102 gateway: stopped on pve</li>"))
        #expect(overview.text.contains("<li data-guest=\"103\">103 swarm: absent</li>"))
        #expect(!overview.text.contains("data-guest=\"900\""), "a template is not meant to run")
        #expect(!overview.text.contains("data-guest=\"101\""))
        await setup.agent.adopt(
            EstateReadings(guests: .read(GuestStatus(rows: [Self.guests.rows[0]]), at: Self.read), stacks: .read(StacksStatus(stacks: []), at: Self.read)))
        let fine = await setup.get("/")
        #expect(fine.text.contains("Every enabled guest is running.") && fine.text.contains("Every stack runs as configured."))
    }

    @Test("runs record the stages they touched; /runs and /api/v1/runs filter by stage; an unknown stage is 400")
    func runsByStage() async throws {
        let setup = try await Setup(anonymousRead: true)
        let shapes: [Set<SyncStage>] = [[.stacks], [], [.certs, .gateway], [.stacks, .files]]
        var ids: [Int64] = []
        for stages in shapes {
            let run = try setup.store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
            _ = try setup.store.beginRun(queued: run, pid: getpid())
            try setup.store.finishRun(run, outcome: .succeeded, summary: "run", stages: stages)
            ids.append(run)
        }
        #expect(try setup.store.run(ids[3])?.stages == [.files, .stacks], "in the stages' order")
        let stacks = await setup.get("/runs", query: ["stage": "stacks"])
        #expect(stacks.text.components(separatedBy: "<tr data-run=").count - 1 == 2, "\(stacks.text)")
        #expect(stacks.text.contains("data-run=\"\(ids[0])\"") && stacks.text.contains("data-run=\"\(ids[3])\""))
        #expect(stacks.text.contains("<option value=\"stacks\" selected>") && stacks.text.contains("<td>files, stacks</td>"))
        #expect(await setup.get("/runs", query: ["stage": "nope"]).status == 400)
        let api = await setup.api.handle(
            APIRequest(method: "GET", path: "/api/v1/runs", query: ["stage": "certs"], headers: [("Authorization", "Bearer \(DashboardTests.readToken)")]))
        let runs = try #require(try JSONParser.parse(api.body).value["runs"]).arrayItems
        #expect(runs.count == 1 && runs.first?["id"]?.numberValue == Double(ids[2]), "\(api.text)")
        #expect(runs.first?["stages"]?.arrayItems.compactMap(\.stringValue) == ["certs", "gateway"])
    }

    @Test("every page's data from the API: status, drift, graph, certificates, stacks, guests (read role; 503 before a reading, 502 when it failed)")
    func pagesAsJSON() async throws {
        let setup = try await Setup()
        func get(_ path: String, token: String? = DashboardTests.readToken) async throws -> (Int, JSONValue) {
            let answer = await setup.api.handle(APIRequest(method: "GET", path: path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? []))
            return (answer.status, try JSONParser.parse(answer.body).value)
        }
        #expect(try await get("/api/v1/stacks", token: nil).0 == 401)
        #expect(try await get("/api/v1/stacks").0 == 503)
        #expect(try await get("/api/v1/drift").0 == 503)
        let (status, overview) = try await get("/api/v1/status")
        #expect(status == 200 && overview["stages"]?.arrayItems.isEmpty == true && overview["last_run"] == .null)

        var estate = EstateStatus(
            commit: String(repeating: "e", count: 40), checked: Self.read, stageOf: ["guest:101": .guests, "gateway:site": .gateway],
            kindOf: ["guest:101": "guest-settings", "gateway:site": "file"],
            drifts: [KindDrift(kind: "file", findings: [DriftFinding(id: "gateway:site", kind: "file", state: .changedByHand, detail: "mode 0600")])],
            notApplied: [])
        estate.dependsOn = ["gateway:site": ["guest:101"]]
        await setup.agent.adopt(estate)
        await setup.agent.adopt(
            EstateReadings(
                guests: .read(Self.guests, at: Self.read), stacks: .failed("the manager cannot be reached", at: Self.read),
                certificates: .read(Self.certificates(now: Self.read), at: Self.read)))

        let (_, full) = try await get("/api/v1/status")
        let gateway = full["stages"]?.arrayItems.first { $0["stage"]?.stringValue == "gateway" }
        #expect(gateway?["state"]?.stringValue == "drifted" && gateway?["drifted"]?.arrayItems.first?.stringValue == "gateway:site")
        #expect(full["guests_not_running"]?.arrayItems.compactMap { $0["id"]?.stringValue } == ["102", "103"])
        #expect(full["certificates_expiring_first"]?.arrayItems.first?["name"]?.stringValue == "web.internal")
        #expect(full["agent"]?["healthy"] == .bool(false))
        let (_, drift) = try await get("/api/v1/drift")
        #expect(drift["drifted"]?.arrayItems.first?["state"]?.stringValue == "changed by hand")
        #expect(drift["drifted"]?.arrayItems.first?["stage"]?.stringValue == "gateway")
        let (_, graph) = try await get("/api/v1/graph")
        #expect(graph["resources"]?.arrayItems.first { $0["id"]?.stringValue == "gateway:site" }?["depends_on"]?.arrayItems.first?.stringValue == "guest:101")
        let (guestsStatus, guests) = try await get("/api/v1/guests")
        #expect(guestsStatus == 200 && guests["guests"]?.arrayItems.count == 4 && guests["read_at"]?.stringValue?.hasPrefix("2027-01-15") == true)
        #expect(guests["guests"]?.arrayItems[1]["note"]?.stringValue == "changed on the cluster since run 4", "the JSON of phoenix status")
        let (stacksStatus, stacks) = try await get("/api/v1/stacks")
        #expect(stacksStatus == 502 && stacks["error"]?.stringValue?.contains("the manager cannot be reached") == true)
        let (_, certificates) = try await get("/api/v1/certificates")
        let certificate = try #require(certificates["certificates"]?.arrayItems.first)
        #expect(certificate["ip_sans"]?.arrayItems.compactMap(\.stringValue) == ["10.0.0.5", "fd00::5"] && certificate["state"]?.stringValue == "renew due")
    }

    @Test("a run page lists each resource's remote calls and time beside its outcome; the API's resources carry them too")
    func resourceCalls() async throws {
        let setup = try await Setup(anonymousRead: true)
        let run = try await setup.waitingRun()
        var details = RunDetails()
        details.resources = [
            RunDetails.Resource(
                ResourceResult(
                    id: "guest:101", kind: "guest-settings", stage: .guests, action: .update,
                    reasons: [ChangeReason(field: "memory", from: "2048", to: "4096")],
                    outcome: .converged, seconds: 1.25, calls: 3))
        ]
        try setup.store.annotateRun(run, commit: nil, previousCommit: nil, details: details.encoded())
        let page = await setup.get("/runs/\(run)")
        #expect(page.text.contains("<td>memory: 2048 → 4096</td><td>1.25 s</td><td>3</td></tr>"), "\(page.text)")
        let api = await setup.api.handle(APIRequest(method: "GET", path: "/api/v1/runs/\(run)"))
        let resource = try #require(try JSONParser.parse(api.body).value["resources"]?.arrayItems.first)
        #expect(resource["calls"]?.numberValue == 3 && resource["seconds"]?.numberValue == 1.25, "\(api.text)")
    }

    @Test("a live run's page streams its progress lines into the log as they are said")
    func liveLog() async throws {
        let setup = try await Setup(anonymousRead: true)
        let run = try setup.store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
        #expect(await setup.get("/runs/\(run)").text.contains("<ol class=\"log\" data-live-log></ol>"))
        #expect(await setup.get("/assets/live.js").text.contains("addEventListener(\"log\""))
        let stream = try #require(await setup.get("/runs/\(run)/events").stream)
        setup.agent.events.publish(run, .log("[  0.2s] stacks: deploying <web>"))
        setup.agent.events.publish(run, .ended(outcome: "succeeded", summary: "done"))
        var text = ""
        for await chunk in stream { text += String(decoding: chunk, as: UTF8.self) }
        #expect(text.hasPrefix("event: log\ndata: {\"line\":\"[  0.2s] stacks: deploying <web>\"}\n\n"), "\(text)")
    }
}
