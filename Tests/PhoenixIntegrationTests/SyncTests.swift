import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState
import PhoenixTesting
import Testing

/// `phoenix sync` against the real dnsmasq, nginx and Traefik of a SyncLab (see there for what
/// stands in for the Proxmox host, the guests and systemctl).
@Suite("Sync against real servers", .serialized, .needs(.syncLab))
struct SyncTests {
    @Test("sync converges dns, firewall, services and gateway; a second sync writes nothing and reloads nothing", .needs(.traefik))
    func convergeThenNoOp() throws {
        let lab = try SyncLab.make(traefik: true)
        let first = try lab.phoenix(["sync", "all"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("Converged: "), "\(first.stdout)")
        #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!], "the service name resolves to the ingress")
        #expect(lab.resolve("grafana-ct.lab.example.net") == [IPv4Address("10.77.0.20")!])
        #expect(lab.gateway() == "301 https://grafana.lab.example.net/x")
        #expect(FileManager.default.fileExists(atPath: lab.host + "/etc/pve/nodes/pve-lab/host.fw"))
        let routers = Probe.httpGet(host: IPv4Address("127.0.0.1")!, port: lab.ports["dashboard"]!, path: "/api/http/routers", timeout: 3) ?? ""
        #expect(routers.contains("websecure-grafana@file"), "\(routers)")

        // The state store records the no-op run; the managed files (contents, modes, mtimes) are untouched.
        let files = lab.treeChecksumExcludingState()
        let pids = ["dnsmasq", "nginx", "traefik"].map(lab.pid)
        let reloads = lab.reloads
        let second = try lab.phoenix(["sync", "all"])
        #expect(second.status == 0)
        #expect(second.stdout.contains("No changes: nothing written, nothing reloaded"), "\(second.stdout)")
        #expect(lab.treeChecksumExcludingState() == files, "nothing was written")
        #expect(["dnsmasq", "nginx", "traefik"].map(lab.pid) == pids, "nothing was restarted")
        #expect(lab.reloads == reloads, "nothing was reloaded")
        #expect(try lab.phoenix(["history"]).stdout.contains("no changes"))
        let plan = try lab.phoenix(["plan", "--detailed-exitcode"])
        #expect(plan.status == 0, "\(plan.stdout)")
    }

    @Test("--target limits plan and sync to one guest's own resources; host-wide ones wait for an untargeted run", .needs(.traefik))
    func target() throws {
        let lab = try SyncLab.make(traefik: true)
        #expect(try lab.phoenix(["sync", "all"]).status == 0)
        // A new service changes the DNS records (the host), Traefik's routes (guest 102) and the gateway's site (101).
        try lab.edit("phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            configs["120"] = ["name": "wiki", "network_config": ["ip": "10.77.0.30/24"], "traefik_service": ["name": "wiki", "port": 80]]
            root["lxc_configs"] = configs
        }
        let everything = try lab.phoenix(["plan", "--format", "json"])
        let allIDs = Self.changedIDs(everything.stdout)
        #expect(allIDs == ["dns:records", "gateway:site", "services:traefik-dynamic"], "\(allIDs)")
        #expect(Self.changedIDs(try lab.phoenix(["plan", "--target", "101", "--format", "json"]).stdout) == ["gateway:site"])

        let planned = try lab.phoenix(["plan", "--target", "102", "--format", "json"])
        #expect(Self.changedIDs(planned.stdout) == ["services:traefik-dynamic"], "\(planned.stdout)")
        let records = try String(contentsOfFile: lab.recordsFile, encoding: .utf8)
        let synced = try lab.phoenix(["sync", "all", "--target", "102"])
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        #expect(synced.stdout.contains("converged: traefik in guest 102"), "\(synced.stdout)")
        #expect(try String(contentsOfFile: lab.recordsFile, encoding: .utf8) == records, "the host's DNS records were left as they were")
        #expect(try lab.phoenix(["plan", "--target", "102", "--detailed-exitcode"]).status == 0)
        let rest = try lab.phoenix(["plan", "--detailed-exitcode", "--format", "json"])
        #expect(
            rest.status == 2 && Self.changedIDs(rest.stdout) == ["dns:records", "gateway:site"],
            "only what the targeted run left: \(Self.changedIDs(rest.stdout))")
        #expect(try lab.phoenix(["history"]).stdout.contains("sync all --target 102"))

        let unknown = try lab.phoenix(["plan", "--target", "999"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--target 999: there is no guest 999"), "\(unknown.stderr)")
    }

    /// The ids of the resources a JSON plan would change.
    static func changedIDs(_ json: String) -> [String] {
        guard let document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [] }
        return ((document["changes"] as? [[String: Any]]) ?? []).filter { ($0["action"] as? String) != "unchanged" }.compactMap { $0["id"] as? String }.sorted()
    }

    @Test("a dry run prints the plan and changes nothing at all: no file, no state, no process")
    func dryRun() throws {
        let lab = try SyncLab.make()
        let before = try lab.phoenix(["sync", "--dry-run", "dns", "gateway"])
        #expect(before.status == 0)
        #expect(before.stdout.contains("Dry run: nothing was changed."))
        #expect(!FileManager.default.fileExists(atPath: lab.state), "a dry run does not even create the state store")
        #expect(lab.pid("dnsmasq") == nil && lab.pid("nginx") == nil)

        #expect(try lab.phoenix(["sync", "dns", "gateway"]).status == 0)
        try lab.edit("phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            configs["120"] = ["name": "wiki", "network_config": ["ip": "10.77.0.30/24"], "traefik_service": ["name": "wiki", "port": 80]]
            root["lxc_configs"] = configs
        }
        let tree = lab.treeChecksum()
        let pids = ["dnsmasq", "nginx"].map(lab.pid)
        let reloads = lab.reloads
        let dry = try lab.phoenix(["sync", "--dry-run", "all", "--format", "json"])
        #expect(dry.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        let changes = try #require(document["changes"] as? [[String: Any]])
        #expect(changes.contains { $0["id"] as? String == "dns:records" && $0["action"] as? String == "update" }, "\(changes)")
        #expect(lab.treeChecksum() == tree, "no file and not the state store changed")
        #expect(["dnsmasq", "nginx"].map(lab.pid) == pids)
        #expect(lab.reloads == reloads)
        #expect(lab.resolve("wiki.lab.example.net").isEmpty)
    }

    @Test("drift tells a hand edit from a configuration change, and sync repairs both")
    func drift() throws {
        let lab = try SyncLab.make()
        #expect(try lab.phoenix(["sync", "dns", "gateway"]).status == 0)
        #expect(try lab.phoenix(["drift"]).status == 2, "firewall and services were never applied")
        #expect(
            try lab.phoenix(["sync", "firewall", "services", "--verify-timeout", "2"]).status == 1,
            "no Traefik in this lab: the services unit fails verification")
        #expect(!FileManager.default.fileExists(atPath: lab.guest(102) + "/etc/traefik/traefik.yml"), "the failed unit's new files were taken back")

        var handEdited = try String(contentsOfFile: lab.recordsFile, encoding: .utf8)
        handEdited += "10.99.0.1 intruder.lab.example.net\n"
        try handEdited.write(toFile: lab.recordsFile, atomically: true, encoding: .utf8)
        try lab.editGateway { gateway in
            gateway["stream_listen"] = "127.0.0.1:\(FreePort.allocate())"
        }
        let report = try lab.phoenix(["drift", "--format", "json"])
        #expect(report.status == 2)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let drift = Dictionary(uniqueKeysWithValues: (document["resources"] as? [[String: Any]] ?? []).map { ($0["id"] as! String, $0["drift"] as! String) })
        #expect(drift["dns:records"] == "changed by hand")
        #expect(drift["gateway:stream"] == "configuration changed")
        #expect(drift["gateway:site"] == "in sync")
        #expect(drift["services:traefik-static"] == "never applied")

        let repair = try lab.phoenix(["sync", "dns", "gateway"])
        #expect(repair.status == 0, "\(repair.stdout)\(repair.stderr)")
        #expect(lab.resolve("intruder.lab.example.net").isEmpty)
        let after = try lab.phoenix(["drift", "--format", "json"])
        #expect(after.status == 2, "the Traefik files were never applied, so drift is still found: \(after.stderr)")
        let resources = (try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        let repaired = resources.filter { ($0["id"] as? String)?.hasPrefix("dns:") == true || ($0["id"] as? String)?.hasPrefix("gateway:") == true }
        #expect(repaired.count == 4, "dns:records, dns:settings, gateway:site, gateway:stream: \(resources)")
        #expect(repaired.allSatisfy { $0["drift"] as? String == "in sync" }, "\(repaired)")
    }

    @Test("a gateway change nginx -t refuses is never activated: the old gateway keeps serving")
    func brokenGateway() throws {
        let lab = try SyncLab.make()
        #expect(try lab.phoenix(["sync", "gateway"]).status == 0)
        let site = try String(contentsOfFile: lab.siteFile, encoding: .utf8)
        let newPort = FreePort.allocate()
        let broken = try lab.configCopy("etc-broken")
        try lab.editGateway(in: broken) { gateway in
            gateway["cert_file"] = lab.directory.file("missing.crt")
            gateway["http_listen"] = "127.0.0.1:\(newPort)"
        }
        let reloads = lab.reloads
        let result = try lab.phoenix(["sync", "gateway"], config: broken)
        #expect(result.status == 1)
        #expect(result.stdout.contains("nginx in guest 101") && result.stdout.contains("nginx -t on the staged gateway files"), "\(result.stdout)")
        #expect(result.stdout.contains("missing.crt"), "the check's own output is shown: \(result.stdout)")
        #expect(try String(contentsOfFile: lab.siteFile, encoding: .utf8) == site)
        #expect(lab.leftovers().isEmpty, "\(lab.leftovers())")
        #expect(lab.reloads.nginx == reloads.nginx, "nginx was not even reloaded")
        #expect(lab.gateway() == "301 https://grafana.lab.example.net/x")
        #expect(lab.gateway(port: newPort) == "no answer")
    }

    @Test("a change that fails verification is undone: the previous files come back and are served")
    func verificationFailure() throws {
        let lab = try SyncLab.make()
        #expect(try lab.phoenix(["sync", "gateway"]).status == 0)
        let site = try String(contentsOfFile: lab.siteFile, encoding: .utf8)
        // Another program holds the port the new site wants: nginx -t passes (it does not bind),
        // the reloaded nginx cannot bind and keeps its old configuration, and the port answers as the other program.
        let taken = FreePort.allocate()
        let python = try #require(TestPaths.program("python3"))
        let squatter = try RunningProcess(
            python, ["-m", "http.server", String(taken), "--bind", "127.0.0.1", "--directory", lab.run], logFile: lab.directory.file("squatter.log"))
        defer { squatter.stop() }
        #expect(waitUntil { Probe.connects(to: IPv4Address("127.0.0.1")!, port: taken, timeout: 1) })
        try lab.editGateway { gateway in
            gateway["http_listen"] = "127.0.0.1:\(taken)"
        }
        let result = try lab.phoenix(["sync", "gateway", "--verify-timeout", "3"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("the gateway answering on its ports"), "\(result.stdout)")
        #expect(result.stdout.contains("the previous files are back in place"), "\(result.stdout)")
        #expect(try String(contentsOfFile: lab.siteFile, encoding: .utf8) == site)
        #expect(lab.gateway() == "301 https://grafana.lab.example.net/x", "the old site is served again")
        let history = try lab.phoenix(["history"]).stdout
        #expect(history.contains("failed"), "\(history)")
    }

    @Test("the resource graph orders the walk: Traefik failing blocks the gateway that proxies to it, dns still converges")
    func blockedByDependency() throws {
        let lab = try SyncLab.make()
        try lab.edit("phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var services = phoenix["services"] as! [String: Any]
            var traefik = services["traefik"] as! [String: Any]
            traefik["test"] = ["sh", "-c", "echo refused by the test >&2; exit 3"]
            services["traefik"] = traefik
            phoenix["services"] = services
            root["phoenix"] = phoenix
        }
        let result = try lab.phoenix(["sync", "dns", "services", "gateway", "--format", "json"])
        #expect(result.status == 1, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let units = try #require(document["units"] as? [[String: Any]])
        let status = Dictionary(uniqueKeysWithValues: units.map { ($0["unit"] as! String, $0["status"] as! String) })
        #expect(status["dnsmasq"] == "converged", "\(units)")
        #expect(status["traefik@102"] == "failed", "\(units)")
        #expect(status["nginx@101"] == "blocked", "\(units)")
        let gateway = try #require(units.first { $0["unit"] as? String == "nginx@101" })
        #expect((gateway["message"] as? String)?.contains("traefik in guest 102 did not converge") == true, "\(gateway)")
        #expect(!FileManager.default.fileExists(atPath: lab.siteFile), "the blocked gateway wrote nothing")
        #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!], "dns converged and answers")
    }

    @Test("rollback re-applies what an earlier run left installed")
    func rollback() throws {
        let lab = try SyncLab.make()
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        let first = try String(contentsOfFile: lab.recordsFile, encoding: .utf8)
        try lab.edit("phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            configs["120"] = ["name": "wiki", "network_config": ["ip": "10.77.0.30/24"]]
            root["lxc_configs"] = configs
        }
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        #expect(lab.resolve("wiki.lab.example.net") == [IPv4Address("10.77.0.30")!])
        let back = try lab.phoenix(["rollback", "1"])
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        #expect(try String(contentsOfFile: lab.recordsFile, encoding: .utf8) == first)
        #expect(lab.resolve("wiki.lab.example.net").isEmpty, "dnsmasq serves the old records again")
        #expect(try lab.phoenix(["plan", "dns", "--detailed-exitcode"]).status == 2, "the configuration still asks for the newer records")
        #expect(try lab.phoenix(["rollback", "99"]).stderr.contains("there is no run 99"))
    }

    @Test("a second sync is refused while one holds the lock, naming its run, command, user, host, pid and start time")
    func lock() async throws {
        let lab = try SyncLab.make()
        let store = try StateStore(path: lab.state)
        let (run, _) = try await store.beginRun(command: "sync all", user: "ops", host: ProcessInfo.processInfo.hostName)
        let refused = try lab.phoenix(["sync", "dns"])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("another sync holds the lock: run \(run) (sync all) of ops on \(ProcessInfo.processInfo.hostName), pid \(getpid()), since"),
            "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: lab.recordsFile))
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
    }
}

/// The files and trust stages: real rsync, real openssl; the host is a folder.
@Suite("Sync of stack files and the CA root", .serialized, .needs(.syncLab, .rsync))
struct FilesAndTrustTests {
    @Test("stack files are mirrored with rsync: never writable by group or others, foreign files kept, only phoenix's own deleted")
    func stackFiles() throws {
        let lab = try SyncLab.make()
        _ = try realProgram("rsync")
        let source = lab.directory.file("stacks/app")
        try FileManager.default.createDirectory(atPath: source + "/conf", withIntermediateDirectories: true)
        try "services:\n  app:\n    image: busybox\n".write(toFile: source + "/docker-compose.yml", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho hi\n".write(toFile: source + "/run.sh", atomically: true, encoding: .utf8)
        try "a = 1\n".write(toFile: source + "/conf/app.toml", atomically: true, encoding: .utf8)
        chmod(source + "/docker-compose.yml", 0o666)
        chmod(source + "/run.sh", 0o777)
        let destination = lab.host + "/quickOS/portainer_stacks/app"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try "not phoenix's\n".write(toFile: destination + "/foreign.txt", atomically: true, encoding: .utf8)

        let first = try lab.phoenix(["sync", "files"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        func mode(_ path: String) -> Int? { (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int }
        #expect(try String(contentsOfFile: destination + "/conf/app.toml", encoding: .utf8) == "a = 1\n")
        #expect(mode(destination + "/docker-compose.yml") == 0o644)
        #expect(mode(destination + "/run.sh") == 0o755)
        #expect(mode(destination + "/conf") == 0o755)
        let noOp = try lab.phoenix(["sync", "files", "--stats"])
        #expect(noOp.stdout.contains("No changes"), "\(noOp.stdout)")
        #expect(noOp.stderr.contains("0 writes"), "\(noOp.stderr)")

        try FileManager.default.removeItem(atPath: source + "/run.sh")
        try "services:\n  app:\n    image: busybox:1.36\n".write(toFile: source + "/docker-compose.yml", atomically: true, encoding: .utf8)
        let plan = try lab.phoenix(["plan", "files", "--format", "json"])
        let changes = (try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["changes"] as? [[String: Any]] ?? []
        let actions = Dictionary(uniqueKeysWithValues: changes.map { ($0["id"] as! String, $0["action"] as! String) })
        #expect(actions == ["files:app/run.sh": "delete", "files:app/docker-compose.yml": "update", "files:app/conf/app.toml": "unchanged"], "\(actions)")
        let second = try lab.phoenix(["sync", "files", "--stats"])
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        // The stats line counts what rsync sent and removed.
        let writes = second.stderr.firstMatch(of: /(\d+) writes/).flatMap { Int($0.1) } ?? 0
        #expect(writes > 0, "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: destination + "/run.sh"))
        #expect(try String(contentsOfFile: destination + "/docker-compose.yml", encoding: .utf8).contains("busybox:1.36"))
        #expect(try String(contentsOfFile: destination + "/foreign.txt", encoding: .utf8) == "not phoenix's\n", "a file phoenix did not install stays")

        // A stack's env file may hold secrets: the state store keeps a keyed hash of it, and drift still works.
        try "DB_PASSWORD=stack-secret-7f3e9\n".write(toFile: source + "/app.env", atomically: true, encoding: .utf8)
        #expect(try lab.phoenix(["sync", "files"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.state)).range(of: Data("stack-secret-7f3e9".utf8)) == nil)
        func drift() throws -> String? {
            let report = try lab.phoenix(["drift", "--format", "json"])
            let resources = (try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])?["resources"] as? [[String: Any]]
            return resources?.first { $0["id"] as? String == "files:app/app.env" }?["drift"] as? String
        }
        #expect(try drift() == "in sync")
        try "DB_PASSWORD=changed-by-hand\n".write(toFile: destination + "/app.env", atomically: true, encoding: .utf8)
        #expect(try drift() == "changed by hand")
        let secretPlan = try lab.phoenix(["plan", "files"])
        #expect(secretPlan.status == 0, "\(secretPlan.stderr)")
        #expect(secretPlan.stdout.contains("contents not shown: the file may hold secrets"), "\(secretPlan.stdout)")
        #expect(
            !secretPlan.stdout.contains("changed-by-hand") && !secretPlan.stdout.contains("stack-secret-7f3e9"),
            "a plan never prints the lines of a file that may hold secrets")

        // A stack file that is not YAML is refused before anything is sent.
        try "services: [unclosed\n".write(toFile: source + "/docker-compose.yml", atomically: true, encoding: .utf8)
        let refused = try lab.phoenix(["sync", "files"])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("YAML check of stacks/app/docker-compose.yml"), "\(refused.stdout)")
        #expect(try String(contentsOfFile: destination + "/docker-compose.yml", encoding: .utf8).contains("busybox:1.36"))
    }

    @Test("the CA root goes into the host's trust store once, checked by openssl first")
    func trust() throws {
        let lab = try SyncLab.make()
        _ = try realProgram("openssl")
        let export = lab.host + "/mnt/pve/quickOS/lxc-persistent-data/103/ssl/phoenix_root_ca.crt"
        let installed = lab.host + "/usr/local/share/ca-certificates/phoenix_internal_root_ca.crt"
        let missing = try lab.phoenix(["plan", "trust"])
        #expect(missing.stdout.contains("trust: not applied: the Step-CA root"), "\(missing.stdout)")

        try FileManager.default.createDirectory(atPath: (export as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(toFile: export, atomically: true, encoding: .utf8)
        let refused = try lab.phoenix(["sync", "trust"])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("openssl x509 on the staged CA root"), "\(refused.stdout)")
        #expect(!FileManager.default.fileExists(atPath: installed))

        try FileManager.default.removeItem(atPath: export)
        try FileManager.default.copyItem(atPath: lab.certificates.ca, toPath: export)
        #expect(try lab.phoenix(["sync", "trust"]).status == 0)
        #expect(FileManager.default.contents(atPath: installed) == FileManager.default.contents(atPath: lab.certificates.ca))
        #expect(try lab.phoenix(["sync", "trust"]).stdout.contains("No changes"))
    }
}

extension SyncLab {
    /// The tree checksum without the state store (which records every run, no-op runs included).
    func treeChecksumExcludingState() -> String {
        var lines: [String] = []
        for base in [host, directory.file("guests")] {
            for relative in (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? []).sorted() {
                var status = stat()
                guard stat("\(base)/\(relative)", &status) == 0 else { continue }
                lines.append("\(relative) \(status.st_mode) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)")
            }
        }
        return Digest.sha256Hex(lines.joined(separator: "\n"))
    }
}
