import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixState
import PhoenixTesting
import Testing

/// fakepve (PyPI: a third-party fake Proxmox VE 9 API, used as a test tool, never vendored) on a
/// free loopback port, with a TLS certificate signed by a CA the test makes, as pve-root-ca.pem
/// signs a node's certificate. It stands in for the Proxmox API of a real node.
final class FakeProxmox: Sendable {
    let directory: TemporaryDirectory
    let port = FreePort.allocate()
    let certificates: TestCertificates
    let tokenFile: String
    private let server: RunningProcess
    static let token = "root@pam!phoenix=tok-4f1d-secret"

    /// A started fakepve (the tests name `.fakepve` in their traits): missing, it fails the test.
    static func make(containers: [[String: Any]], vms: [[String: Any]], extra: [String: Any] = [:]) throws -> FakeProxmox {
        let venvPython = "\(TestPaths.packageRoot)/.venv-it/bin/python"
        let interpreter = FileManager.default.isExecutableFile(atPath: venvPython) ? venvPython : try realProgram("python3")
        let probe = try Command.run(interpreter, ["-c", "import fakepve"])
        try #require(probe.status == 0, "fakepve is not installed for \(interpreter); scripts/test.sh installs it: \(probe.stderr)")
        return try FakeProxmox(interpreter: interpreter, containers: containers, vms: vms, extra: extra)
    }

    private init(interpreter: String, containers: [[String: Any]], vms: [[String: Any]], extra: [String: Any]) throws {
        directory = try TemporaryDirectory("phoenix-pve")
        certificates = try TestCertificates(in: directory)
        tokenFile = directory.file("token")
        try (Self.token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o600)
        let spec: [String: Any] = [
            "port": port, "directory": directory.path, "cert": certificates.cert, "key": certificates.key,
            "tokens": ["root@pam!phoenix": "tok-4f1d-secret"], "containers": containers, "vms": vms,
        ].merging(extra) { first, _ in first }
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: directory.file("spec.json")))
        server = try RunningProcess(
            interpreter, ["\(TestPaths.packageRoot)/Tests/PhoenixIntegrationTests/Fixtures/fakepve_server.py", directory.file("spec.json")],
            logFile: directory.file("fakepve.log"))
        let server = self.server
        #expect(waitUntil(timeout: 15) { server.log.contains("ready") }, "fakepve did not start: \(server.log)")
    }

    deinit { server.stop() }

    var api: String { "https://127.0.0.1:\(port)" }

    /// Runs the built phoenix with this API in its environment (the token from a file, never argv).
    func phoenix(_ arguments: [String], config: String = "\(TestPaths.exampleEstate)/etc", environment: [String: String] = [:]) throws -> CommandResult {
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        var variables = [
            "PHOENIX_API": api, "PHOENIX_API_CA": certificates.ca, "PHOENIX_API_TOKEN_FILE": tokenFile, "PHOENIX_STATE": directory.file("state.sqlite"),
        ]
        variables.merge(environment) { $1 }
        let env = try #require(TestPaths.program("env"))
        return try Command.run(env, variables.map { "\($0.key)=\($0.value)" } + [binary] + arguments + ["--config-dir", config], timeout: 120)
    }

    /// The agent requests fakepve recorded for VM 1001, as "<command> <file or argv>" lines.
    func requests() -> [String] {
        (try? String(contentsOfFile: directory.file("agent-requests.log"), encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    func client() throws -> ProxmoxClient {
        try ProxmoxClient(endpoint: api, auth: .token(Self.token), caFile: certificates.ca)
    }

    /// Runs `body` with a client that is shut down however the body ends, and returns its result.
    @discardableResult
    func withClient<T>(_ body: (ProxmoxClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

/// The example estate's guests on the fake cluster: 1002 is missing, 555 is not ours.
var exampleCluster: (containers: [[String: Any]], vms: [[String: Any]]) {
    (
        [
            ["vmid": 900, "name": "Base-Template"], ["vmid": 101, "name": "Nginx-Phoenix", "status": "running"], ["vmid": 102, "name": "Traefik-Internal"],
            ["vmid": 103, "name": "Step-CA"], ["vmid": 110, "name": "grafana"], ["vmid": 555, "name": "someone-else"],
        ],
        [["vmid": 9000, "name": "debian-cloud-template", "template": true], ["vmid": 1001, "name": "swarm-manager"]]
    )
}

@Suite("The Proxmox API (fakepve)", .serialized, .needs(.fakepve))
struct ProxmoxTests {
    @Test("status joins the configuration with one bulk read of the cluster")
    func status() throws {
        let pve = try FakeProxmox.make(containers: exampleCluster.containers, vms: exampleCluster.vms)
        let result = try pve.phoenix(["status", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let guests = Dictionary(
            uniqueKeysWithValues: (document["guests"] as? [[String: String]] ?? []).map { ($0["id"]!, $0) })
        #expect(guests["101"]?["status"] == "running")
        #expect(guests["102"]?["status"] == "stopped")
        #expect(guests["1002"]?["status"] == "absent")
        #expect(guests["9000"]?["note"] == "template")
        #expect(guests["555"]?["note"] == "not in the configuration")
        #expect(guests.count == 9)
    }

    @Test("start walks dependencies first and never starts a template; stop walks back, dependents first")
    func power() async throws {
        let pve = try FakeProxmox.make(containers: exampleCluster.containers, vms: exampleCluster.vms)
        let started = try pve.phoenix(["start", "110"])
        #expect(started.status == 0, "\(started.stdout)\(started.stderr)")
        let order = started.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
        #expect(order == ["103", "102", "110"], "110 needs 102 (Traefik), which needs 103 (the CA): \(started.stdout)")
        let client = try pve.client()
        let afterStart = Dictionary(uniqueKeysWithValues: try await client.guests().map { ($0.vmid, $0.status) })
        #expect(afterStart[110] == "running" && afterStart[102] == "running" && afterStart[103] == "running")
        #expect(afterStart[900] == "stopped", "the template 110 was cloned from is never started")

        let again = try pve.phoenix(["start", "110"])
        #expect(again.stdout.contains("110 grafana: already running"), "\(again.stdout)")

        let stopped = try pve.phoenix(["stop", "102"])
        #expect(stopped.status == 0, "\(stopped.stdout)\(stopped.stderr)")
        let stopOrder = stopped.stdout.split(separator: "\n").map { $0.split(separator: ":").first.map { $0.split(separator: " ")[0] }.map(String.init) ?? "" }
        #expect(stopOrder.firstIndex(of: "110")! < stopOrder.firstIndex(of: "102")!, "what needs Traefik stops before Traefik: \(stopped.stdout)")
        #expect(stopped.stdout.contains("1002: not on the cluster, nothing to stop"))
        let afterStop = Dictionary(uniqueKeysWithValues: try await client.guests().map { ($0.vmid, $0.status) })
        #expect(afterStop[102] == "stopped" && afterStop[110] == "stopped" && afterStop[101] == "stopped")
        #expect(afterStop[103] == "running", "the CA does not depend on Traefik")
        await client.shutdown()

        // Restart: 102 and what needs it stop (dependents first), then all of them start (dependencies first).
        #expect(try pve.phoenix(["start", "110"]).status == 0)
        let restarted = try pve.phoenix(["restart", "102"])
        #expect(restarted.status == 0, "\(restarted.stdout)\(restarted.stderr)")
        let lines = restarted.stdout.split(separator: "\n").map(String.init)
        let stopOf110 = try #require(lines.firstIndex { $0.hasPrefix("110 grafana: stopped") })
        let stopOf102 = try #require(lines.firstIndex { $0.hasPrefix("102 Traefik-Internal: stopped") })
        let startOf102 = try #require(lines.firstIndex { $0.hasPrefix("102 Traefik-Internal: running") })
        let startOf110 = try #require(lines.firstIndex { $0.hasPrefix("110 grafana: running") })
        #expect(stopOf110 < stopOf102 && stopOf102 < startOf102 && startOf102 < startOf110, "\(restarted.stdout)")
        let client2 = try pve.client()
        let afterRestart = Dictionary(uniqueKeysWithValues: try await client2.guests().map { ($0.vmid, $0.status) })
        await client2.shutdown()
        #expect(afterRestart[102] == "running" && afterRestart[110] == "running")

        let missing = try pve.phoenix(["start", "1002"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("guest 1002: it does not exist on the cluster (phoenix create 1002 first)"), "\(missing.stderr)")
    }

    @Test("create makes the example estate from nothing, templates before their clones, each tagged and configured; delete only takes phoenix's own")
    func createAndDelete() async throws {
        let pve = try FakeProxmox.make(containers: [["vmid": 555, "name": "someone-else"]], vms: [])
        // The plan: templates in the first wave, clones of one template in one lane (one at a time),
        // unrelated lanes side by side.
        let planned = try pve.phoenix(["create", "--dry-run"])
        #expect(planned.status == 0, "\(planned.stderr)")
        let waves = planned.stdout.split(separator: "\n").filter { $0.hasPrefix("wave ") }
        #expect(waves.contains { $0.hasPrefix("wave 1, containers onto local-lvm on pve1: 900") }, "\(planned.stdout)")
        #expect(waves.contains { $0.hasPrefix("wave 1, VMs on pve1: 9000") }, "\(planned.stdout)")
        #expect(
            waves.contains { $0.hasPrefix("wave 2, clones of 900: ") && $0.contains("101 ") && $0.contains("102 ") && $0.contains("110 ") }, "\(planned.stdout)"
        )
        #expect(waves.contains { $0.hasPrefix("wave 2, clones of 9000: ") && $0.contains("1001 ") }, "\(planned.stdout)")
        #expect(Set(try await pve.withClient { try await $0.guests().map(\.vmid) }) == [555], "a dry run creates nothing")

        let created = try pve.phoenix(["create"])
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
        let order = created.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        #expect(Set(order) == [900, 101, 102, 103, 110, 9000, 1001, 1002])
        #expect(order.firstIndex(of: 900)! < order.firstIndex(of: 102)!, "the template before its clones: \(created.stdout)")
        #expect(order.firstIndex(of: 9000)! < order.firstIndex(of: 1001)!)
        #expect(created.stdout.contains("102 Traefik-Internal: cloned from 900"))

        let client = try pve.client()
        let guests = Dictionary(uniqueKeysWithValues: try await client.guests().map { ($0.vmid, $0) })
        #expect(guests[900]?.template == true && guests[9000]?.template == true)
        #expect(guests[102]?.tags == [ProxmoxGuestConfig.ownershipTag])
        let config = try await client.get("/nodes/pve1/lxc/102/config")
        #expect(config["net0"].map { "\($0)" }?.contains("ip=10.77.0.12/24") == true, "\(config)")
        #expect(config["startup"] == .string("order=2"))
        #expect(config["onboot"] == .number(1))

        let again = try pve.phoenix(["create"])
        #expect(again.status == 0, "\(again.stderr)")
        let lines = again.stdout.split(separator: "\n")
        #expect(lines.count == 8 && lines.allSatisfy { $0.hasSuffix(": exists") }, "every configured guest exists: \(again.stdout)")

        let refused = try pve.phoenix(["delete", "110", "555"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("guest 555 (someone-else): it does not carry the phoenix-managed tag"), "\(refused.stderr)")
        let afterRefusal = Set(try await client.guests().map(\.vmid))
        #expect(afterRefusal.contains(110) && afterRefusal.contains(555), "a refusal deletes nothing")

        #expect(try pve.phoenix(["start", "110"]).status == 0)
        let deleted = try pve.phoenix(["delete", "110"])
        #expect(deleted.status == 0, "\(deleted.stdout)\(deleted.stderr)")
        #expect(try pve.phoenix(["delete", "555", "--force"]).status == 0)
        let remaining = Set(try await client.guests().map(\.vmid))
        #expect(!remaining.contains(110) && !remaining.contains(555) && remaining.contains(102))
        await client.shutdown()
    }

    @Test("letsgo ends with sync all when a guest asks for it (real dnsmasq, nginx and Traefik in the lab); --no-sync leaves it", .needs(.syncLab, .traefik))
    func letsgoSyncs() async throws {
        // fakepve stands in for the node's API; the lab's folders stand in for the host and the
        // guests (PHOENIX_HOST_ROOT, PHOENIX_GUEST_ROOT), its real servers for their services.
        let lab = try SyncLab.make(traefik: true)
        let labGuests: [[String: Any]] = [
            ["vmid": 101, "name": "Nginx-Phoenix"], ["vmid": 102, "name": "Traefik-Internal"], ["vmid": 103, "name": "Step-CA"],
            ["vmid": 110, "name": "grafana-ct"],
        ]
        let pve = try FakeProxmox.make(containers: labGuests, vms: [])
        let config = try lab.configCopy("etc-letsgo")
        try PatchedEstate.editContainer(110, in: config) { entry in entry["trigger_sync_on_completion"] = true }
        let environment = ["PHOENIX_HOST_ROOT": lab.host, "PHOENIX_GUEST_ROOT": lab.directory.file("guests")]
        let skipped = try pve.phoenix(["letsgo", "--no-sync"], config: config, environment: environment)
        #expect(skipped.status == 0, "\(skipped.stdout)\(skipped.stderr)")
        #expect(skipped.stdout.contains("Guests 110 ask for a sync; not run (--no-sync)"), "\(skipped.stdout)")
        #expect(!FileManager.default.fileExists(atPath: lab.recordsFile), "nothing was synced")

        let synced = try pve.phoenix(["letsgo"], config: config, environment: environment)
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        #expect(synced.stdout.contains("Guests 110 ask for a sync: phoenix sync all"), "\(synced.stdout)")
        #expect(synced.stdout.contains("Converged: "), "\(synced.stdout)")
        #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!], "the real dnsmasq serves what the sync installed")
        let store = try #require(try StateStore.existing(path: pve.directory.file("state.sqlite")))
        let runs = try await store.runs()
        #expect(runs.contains { $0.command == "sync all" && $0.outcome == "succeeded" }, "\(runs.map(\.command))")
    }

    @Test("converge shows the plan, applies only what differs, and is then a no-op")
    func converge() async throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let estate = try PatchedEstate.exampleCopy("phoenix-converge")
        #expect(try pve.phoenix(["letsgo"], config: estate.file("etc")).status == 0)
        #expect(try pve.phoenix(["converge", "--format", "json"], config: estate.file("etc")).stdout.contains(#""guests": []"#), "as configured after letsgo")

        try PatchedEstate.editContainer(110, in: estate.file("etc")) { entry in
            entry["cores"] = 4
            entry["memory_mb"] = 4096
            entry["tags"] = ["monitoring"]
        }
        let dry = try pve.phoenix(["converge", "--dry-run", "110"], config: estate.file("etc"))
        #expect(dry.stdout.contains("110 grafana: cores: 2 → 4") && dry.stdout.contains("110 grafana: memory: 1024 → 4096"), "\(dry.stdout)")
        #expect(dry.stdout.contains("110 grafana: tags: phoenix-managed → monitoring;phoenix-managed"), "ownership kept: \(dry.stdout)")
        let client = try pve.client()
        #expect(try await client.get("/nodes/pve1/lxc/110/config")["cores"] == .number(2), "a dry run changes nothing")

        let applied = try pve.phoenix(["converge", "110", "--format", "json"], config: estate.file("etc"))
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try await client.get("/nodes/pve1/lxc/110/config")["cores"] == .number(4))
        #expect(try await client.get("/nodes/pve1/lxc/110/config")["memory"] == .number(4096))
        let again = try pve.phoenix(["converge", "--format", "json"], config: estate.file("etc"))
        #expect(again.stdout.contains(#""guests": []"#), "\(again.stdout)")
        await client.shutdown()
    }

    /// The API calls a command made, from its `--stats` line.
    static func calls(_ result: CommandResult) -> Int? {
        guard let range = result.stderr.range(of: #"(\d+) API calls"#, options: .regularExpression) else { return nil }
        return Int(result.stderr[range].split(separator: " ")[0])
    }

    @Test("converge reads only guests that may have changed: one bulk read, plus one per guest changed in the configuration or on the cluster")
    func convergeRoundTrips() async throws {
        let pve = try FakeProxmox.make(containers: exampleCluster.containers, vms: exampleCluster.vms)
        let estate = try PatchedEstate.exampleCopy("phoenix-converge-reads")
        let etc = estate.file("etc")
        let present = ["101", "102", "103", "110", "900", "1001", "9000"]  // configured guests on the fake cluster (1002 is absent)

        // Never converged: every present guest is read.
        let first = try pve.phoenix(["converge", "--dry-run", "--stats"], config: etc)
        #expect(Self.calls(first) == 1 + present.count, "\(first.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pve.directory.file("state.sqlite")), "a dry run creates no state")
        let converged = try pve.phoenix(["converge", "--stats"], config: etc)
        #expect(converged.status == 0, "\(converged.stderr)")

        // Unchanged since: the bulk read alone.
        let quiet = try pve.phoenix(["converge", "--dry-run", "--stats"], config: etc)
        #expect(Self.calls(quiet) == 1, "\(quiet.stderr)")
        #expect(quiet.stdout.contains("\(present.count) guests unchanged since phoenix converged them were not read"), "\(quiet.stdout)")

        // The configuration asks for more memory for 110; someone gave 101 more cores by hand.
        try PatchedEstate.editContainer(110, in: estate.file("etc")) { entry in
            entry["memory_mb"] = 3072
        }
        try await pve.withClient { client in _ = try await client.put("/nodes/pve1/lxc/101/config", [("cores", "7")]) }
        let changed = try pve.phoenix(["converge", "--dry-run", "--stats"], config: etc)
        #expect(Self.calls(changed) == 3, "the bulk read, 110 and 101: \(changed.stderr)")
        let status = try pve.phoenix(["status", "--format", "json"], config: etc).stdout
        #expect(status.contains("configuration changed since run") && status.contains("changed on the cluster since run"), "\(status)")
        #expect(changed.stdout.contains("110 grafana: memory: 1024 → 3072"), "\(changed.stdout)")
        #expect(changed.stdout.contains("101 Nginx-Phoenix: cores: 7 → "), "a change by hand the bulk read shows is found: \(changed.stdout)")

        // A change by hand the bulk read does not show (start at boot) is found by --refresh.
        try await pve.withClient { client in _ = try await client.put("/nodes/pve1/lxc/103/config", [("onboot", "0")]) }
        let refreshed = try pve.phoenix(["converge", "--dry-run", "--refresh", "--stats"], config: etc)
        #expect(Self.calls(refreshed) == 1 + present.count, "\(refreshed.stderr)")
        #expect(refreshed.stdout.contains("103 Step-CA: onboot: 0 → 1"), "\(refreshed.stdout)")

        let applied = try pve.phoenix(["converge", "--refresh"], config: etc)
        #expect(applied.status == 0, "\(applied.stderr)")
        let after = try pve.phoenix(["converge", "--dry-run", "--stats"], config: etc)
        #expect(Self.calls(after) == 1, "what converge changed is recorded as it then showed on the cluster: \(after.stderr)\(after.stdout)")

        // A deleted guest's record goes with it; the run is in the history.
        let deleted = try pve.phoenix(["delete", "110", "--force"], config: etc)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        let store = try #require(try StateStore.existing(path: pve.directory.file("state.sqlite")))
        let records = try store.guestRecords()
        #expect(records[110] == nil && records[101] != nil, "\(records.keys.sorted())")
        await #expect(try store.runs().contains { $0.command == "converge" && $0.outcome == "succeeded" })
    }

    @Test("a setting waiting for a reboot is remembered: later runs say so without reading the guest, and --reboot reboots for it then")
    func pendingReboot() async throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let estate = try PatchedEstate.exampleCopy("phoenix-pending")
        let etc = estate.file("etc")
        #expect(try pve.phoenix(["letsgo"], config: etc).status == 0)
        try PatchedEstate.edit(estate.file("etc/phoenix_vm_configs.json")) { root in
            var vms = root["vms"] as! [[String: Any]]
            let index = vms.firstIndex { ($0["vmid"] as? Int) == 1001 }!
            vms[index]["cores"] = 6  // a running VM without CPU hotplug takes a new core count only when it starts again
            root["vms"] = vms
        }
        let changed = try pve.phoenix(["converge", "1001"], config: etc)
        #expect(changed.stdout.contains("1001 swarm-manager: cores take effect at the next reboot (--reboot to reboot now)"), "\(changed.stdout)")

        let later = try pve.phoenix(["converge", "--dry-run", "--stats", "1001"], config: etc)
        #expect(Self.calls(later) == 1, "the guest is not read again: \(later.stderr)")
        #expect(later.stdout.contains("1001 swarm-manager: cores take effect at the next reboot (set by run"), "\(later.stdout)")
        let status = try pve.phoenix(["status"], config: etc)
        #expect(status.stdout.split(separator: "\n").contains { $0.hasPrefix("1001 ") && $0.hasSuffix("reboot pending: cores") }, "\(status.stdout)")

        let rebooted = try pve.phoenix(["converge", "--reboot", "1001"], config: etc)
        #expect(rebooted.status == 0, "\(rebooted.stderr)")
        #expect(rebooted.stdout.contains("1001 swarm-manager: rebooted for cores (set by run"), "\(rebooted.stdout)")
        let pending = try await pve.withClient { client in try await client.get("/nodes/pve1/qemu/1001/pending") }
        guard case let .array(items) = pending else { throw ProxmoxError(call: "pending", kind: .malformed, message: "") }
        #expect(!items.contains { $0["key"] == .string("cores") && $0["pending"] != nil }, "the reboot applied it: \(items)")
        let after = try pve.phoenix(["converge", "--dry-run", "1001"], config: etc)
        #expect(after.status == 0 && after.stdout.contains("guests would change"), "\(after.stdout)\(after.stderr)")
        #expect(!after.stdout.contains("next reboot"), "\(after.stdout)")
    }

    @Test("drift with the API names each drifted guest and which side moved: the cluster, the configuration, or a guest never converged")
    func guestDrift() async throws {
        let pve = try FakeProxmox.make(containers: exampleCluster.containers, vms: exampleCluster.vms)
        let estate = try PatchedEstate.exampleCopy("phoenix-guest-drift")
        let etc = estate.file("etc")
        try PatchedEstate.withoutSwarm(etc)
        // The file side of drift looks at empty folders standing in for the host and the guests.
        let folders = ["PHOENIX_HOST_ROOT": estate.file("host"), "PHOENIX_GUEST_ROOT": estate.file("guests")]
        #expect(try pve.phoenix(["converge", "101", "103"], config: etc).status == 0)

        let clean = try pve.phoenix(["drift", "--format", "json"], config: etc, environment: folders)
        let guests = { (result: CommandResult) -> [String: String] in
            let document = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
            return Dictionary(uniqueKeysWithValues: ((document["guests"] as? [[String: Any]]) ?? []).map { ($0["id"] as! String, $0["drift"] as! String) })
        }
        #expect(guests(clean)["101"] == nil && guests(clean)["103"] == nil, "converged guests have not drifted: \(clean.stdout)")
        #expect(guests(clean)["1002"] == "absent from the cluster")
        #expect(guests(clean)["110"] == "never converged", "\(clean.stdout)")

        // Start at boot switched off by hand on 103 (the bulk read cannot show it); 101's configuration changed.
        try await pve.withClient { client in _ = try await client.put("/nodes/pve1/lxc/103/config", [("onboot", "0")]) }
        try PatchedEstate.editContainer(101, in: estate.file("etc")) { entry in
            entry["cores"] = 2
        }
        let drifted = try pve.phoenix(["drift", "--format", "json"], config: etc, environment: folders)
        #expect(drifted.status == 2, "\(drifted.stderr)")
        #expect(guests(drifted)["103"] == "changed on the cluster", "\(drifted.stdout)")
        #expect(guests(drifted)["101"] == "configuration changed", "\(drifted.stdout)")
        let text = try pve.phoenix(["drift"], config: etc, environment: folders)
        #expect(text.stdout.contains("changed on the cluster: guest 103 Step-CA (onboot: 0 → 1)"), "\(text.stdout)")
    }

    @Test("a wrong token, an untrusted certificate and an unreachable API are clear errors naming the call")
    func badInput() throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let wrongToken = try pve.phoenix(["status"], environment: ["PHOENIX_API_TOKEN_FILE": "", "PHOENIX_API_TOKEN": "root@pam!phoenix=wrong"])
        #expect(wrongToken.status == 1)
        #expect(wrongToken.stderr.contains("GET /cluster/resources: authentication failure"), "\(wrongToken.stderr)")
        #expect(!wrongToken.stderr.contains("wrong") && !wrongToken.stdout.contains("tok-4f1d"), "the token is never printed")

        let otherCA = try TemporaryDirectory("phoenix-ca")
        let stranger = try TestCertificates(in: otherCA)
        let untrusted = try pve.phoenix(["status"], environment: ["PHOENIX_API_CA": stranger.ca])
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("the API's TLS certificate is not trusted: certificate verify failed"), "\(untrusted.stderr)")

        let closed = try pve.phoenix(["status"], environment: ["PHOENIX_API": "https://127.0.0.1:\(FreePort.allocate())"])
        #expect(closed.status == 1)
        #expect(closed.stderr.contains("the Proxmox API cannot be reached: connection refused"), "\(closed.stderr)")

        let noToken = try pve.phoenix(["status"], environment: ["PHOENIX_API_TOKEN_FILE": "", "PHOENIX_API_TOKEN": ""])
        #expect(noToken.status == 64)

        // Ticket sign-in (a cookie, and the CSRF token on writes) instead of a token.
        let password = pve.directory.file("password")
        try "secret\n".write(toFile: password, atomically: true, encoding: .utf8)
        let ticket = try pve.phoenix(
            ["status", "--api-user", "root@pam", "--format", "json"], environment: ["PHOENIX_API_TOKEN_FILE": "", "PHOENIX_API_PASSWORD_FILE": password])
        #expect(ticket.status == 0, "\(ticket.stderr)")
        let wrongPassword = pve.directory.file("wrong")
        try "not-it\n".write(toFile: wrongPassword, atomically: true, encoding: .utf8)
        let refused = try pve.phoenix(["status", "--api-user", "root@pam"], environment: ["PHOENIX_API_PASSWORD_FILE": wrongPassword])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("POST /access/ticket: authentication failure"), "\(refused.stderr)")
        #expect(!(refused.stdout + refused.stderr).contains("not-it"), "the password is never printed")
    }

    @Test("Proxmox's parameter errors name the parameter; a failed task is a failure with its exit status")
    func apiErrors() async throws {
        let pve = try FakeProxmox.make(containers: [], vms: [["vmid": 200, "name": "vm"]])
        let client = try pve.client()
        do {
            _ = try await client.put("/nodes/pve1/qemu/200/config", [("net0", "bogus_model,bridge=vmbr0")])
            Issue.record("a bogus NIC model was accepted")
        } catch {
            #expect(error.description.contains("PUT /nodes/pve1/qemu/200/config: Proxmox refused the parameters: net0"), "\(error.description)")
        }
        let guest = try #require(try await client.guests().first)
        try await client.setPower(guest, to: "start", timeout: 10)
        do {
            try await client.setPower(guest, to: "start", timeout: 10)
            Issue.record("starting a running VM succeeded")
        } catch {
            #expect(error.kind == .taskFailed("VM 200 already running"), "\(error.description)")
        }
        #expect(client.counter.total >= 4)
        await client.shutdown()
    }

    @Test("guest agent commands: output collected, a command still running at the timeout is a failure, files go in the body in parts")
    func agent() async throws {
        let agent: [String: Any] = [
            "exec": [
                "cat /etc/hostname": ["exited": true, "exitcode": 0, "out-data": "swarm-manager\n"],
                "false": ["exited": true, "exitcode": 1, "err-data": "failed"],
                "sleep 3600": ["exited": false],
            ]
        ]
        let pve = try FakeProxmox.make(
            containers: [], vms: [["vmid": 1001, "name": "swarm-manager", "status": "running", "config": ["agent": "1"], "agent": agent]])
        try await pve.withClient { client in
            let vm = try #require(try await client.guests().first)
            #expect(try await client.agentExec(vm, ["cat", "/etc/hostname"], timeout: 10) == AgentResult(exitCode: 0, stdout: "swarm-manager\n", stderr: ""))
            #expect(try await client.agentExec(vm, ["false"], timeout: 10).exitCode == 1)
            do throws(ProxmoxError) {
                _ = try await client.agentExec(vm, ["sleep", "3600"], timeout: 1)
                Issue.record("a command still running at the timeout was taken for a success")
            } catch {
                #expect(error.kind == .timeout)
                #expect(error.description.contains("sleep in VM 1001 still running after 1 s"), "\(error.description)")
            }
            let secret = Array("-----BEGIN PRIVATE KEY-----\nnot-a-real-key\n".utf8)
            try await client.agentWriteFile(vm, path: "/etc/docker/tls/key.pem", contents: secret, timeout: 10)
            let large = [UInt8](repeating: UInt8(ascii: "x"), count: ProxmoxClient.agentChunkSize * 2 + 10)
            try await client.agentWriteFile(vm, path: "/srv/big.bin", contents: large, timeout: 10)
        }
        // fakepve writes its request log every 0.1 s: the last request is the one that puts the parts together.
        try waitFor("fakepve to log the request that joins the parts", detail: { "\(pve.requests())" }) {
            pve.requests().contains { $0.hasPrefix("exec sh -c") && $0.contains("phoenix-join /srv/big.bin ") }
        }
        // What the agent was asked, as fakepve recorded it: the key only ever in a file-write body.
        let log = pve.requests()
        #expect(log.contains { $0.hasPrefix("file-write /etc/docker/tls/key.pem") })
        #expect(log.filter { $0.hasPrefix("file-write /srv/big.bin.phoenix-part-") }.count == 3, "\(log)")
        #expect(log.contains { $0.hasPrefix("exec sh -c") && $0.contains("phoenix-prepare /srv/big.bin.phoenix-part-0") })
        #expect(log.contains { $0.hasPrefix("exec sh -c") && $0.contains("phoenix-join /srv/big.bin /srv/big.bin.phoenix-part-0") })
        #expect(!log.contains { $0.hasPrefix("exec") && $0.contains("not-a-real-key") })
    }

    @Test("the firewall through the API: phoenix's rules in order, a hand-made rule kept, a change is the smallest edit")
    func firewall() async throws {
        let pve = try FakeProxmox.make(containers: exampleCluster.containers, vms: exampleCluster.vms)
        try await pve.withClient { client in
            _ = try await client.post(
                "/cluster/firewall/rules",
                [("type", "in"), ("action", "ACCEPT"), ("proto", "tcp"), ("dport", "9999"), ("comment", "hand-made"), ("enable", "1")])
        }
        let first = try pve.phoenix(["firewall"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("cluster: option policy_in: (unset) → DROP"))
        #expect(try pve.phoenix(["firewall", "--dry-run"]).stdout.contains("cluster: as configured"))

        let estate = try PatchedEstate.exampleCopy("phoenix-fw")
        try PatchedEstate.edit(estate.file("etc/phoenix_hypervisor_config.json")) { root in
            var firewall = root["firewall"] as! [String: Any]
            var rules = firewall["global_firewall_rules"] as! [[String: Any]]
            rules[1]["port"] = "8007"
            firewall["global_firewall_rules"] = rules
            root["firewall"] = firewall
        }
        // The same through the firewall stage: `plan`/`sync firewall --firewall-through api`.
        let planned = try pve.phoenix(["plan", "firewall", "--firewall-through", "api", "--detailed-exitcode"], config: estate.file("etc"))
        #expect(planned.status == 2, "changes pending: \(planned.stdout)\(planned.stderr)")
        #expect(planned.stdout.contains("firewall (API) cluster: + rule"), "\(planned.stdout)")
        let change = try pve.phoenix(["sync", "firewall", "--firewall-through", "api"], config: estate.file("etc"))
        #expect(change.status == 0, "\(change.stderr)")
        let cluster = change.stdout.split(separator: "\n").filter { $0.hasPrefix("firewall (API) cluster: ") }
        #expect(cluster.count == 2, "one rule out, one rule in: \(change.stdout)")
        let settled = try pve.phoenix(["plan", "firewall", "--firewall-through", "api", "--detailed-exitcode"], config: estate.file("etc"))
        #expect(settled.status == 0, "\(settled.stdout)\(settled.stderr)")
        #expect(
            cluster.contains { $0.contains("- rule") && $0.contains("-dport 8006") } && cluster.contains { $0.contains("+ rule") && $0.contains("-dport 8007") }
        )
        try await pve.withClient { client in
            guard case let .array(rules) = try await client.get("/cluster/firewall/rules") else {
                throw ProxmoxError(call: "rules", kind: .malformed, message: "")
            }
            let ports = rules.map { rule -> String in if case let .string(port)? = rule["dport"] { port } else { "-" } }
            #expect(ports == ["9999", "22", "8007", "53", "53", "-", "80,443"], "\(ports)")
        }
    }

    @Test("a guest that vanished mid-run and an unknown node are errors naming the guest and the call")
    func vanished() async throws {
        let pve = try FakeProxmox.make(containers: [["vmid": 110, "name": "grafana"]], vms: [])
        try await pve.withClient { client in
            let guest = try #require(try await client.guests().first)
            // Someone deletes it between phoenix's bulk read and its next call.
            _ = try await client.delete(guest.path)
            do throws(ProxmoxError) {
                try await client.setPower(guest, to: "start", timeout: 10)
                Issue.record("starting a deleted guest succeeded")
            } catch {
                #expect(error.description.hasPrefix("POST /nodes/pve1/lxc/110/status/start: "), "\(error.description)")
                #expect(error.description.contains("110"), "\(error.description)")
            }
        }
        let unknownNode = try pve.phoenix(["create", "900", "--node", "pve9"])
        #expect(unknownNode.status == 1)
        #expect(unknownNode.stderr.contains("POST /nodes/pve9/lxc"), "\(unknownNode.stderr)")
    }
}
