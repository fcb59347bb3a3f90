import Foundation
import PhoenixTesting
import Testing

/// The certs stage against a real step-ca (StepCALab): the host is a folder (--host-root), the
/// guests are folders (--guest-root) standing in for pct and the guest agent.
@Suite("Certificates from a real step-ca", .serialized, .needs(.stepCA))
struct CertTests {
    struct Estate {
        let directory: TemporaryDirectory
        let ca: StepCALab
        var etc: String { directory.file("etc") }
        var host: String { directory.file("host") }
        var guests: String { directory.file("guests") }

        static let app = "app.lab.test"
        static let ip = "ip.lab.test"
        static let client = "client.lab.test"

        /// The example estate with its own manifest: a wildcard server certificate installed in
        /// guest 101, one with IP SANs, a client certificate.
        static func make(_ label: String, entries: [[String: Any]]? = nil) throws -> Estate {
            let directory = try PatchedEstate.exampleCopy(label)
            try PatchedEstate.withoutSwarm(directory.file("etc"))
            try FileManager.default.createDirectory(atPath: directory.file("host"), withIntermediateDirectories: true)
            let ca = try StepCALab.start(in: directory.file("host/ca"))
            let estate = Estate(directory: directory, ca: ca)
            try PatchedEstate.edit(directory.file("etc/phoenix_hypervisor_config.json")) { root in
                var phoenix = root["phoenix"] as? [String: Any] ?? [:]
                phoenix["step_ca"] = ["url": ca.url, "password_file": "/ca/password.txt", "root_file": "/ca/certs/root_ca.crt"]
                root["phoenix"] = phoenix
                root["step_ca"] = ["provisioner_name": "phoenix", "dns_name": "ca.lab.test"]
            }
            try estate.writeManifest(entries ?? Self.entries)
            return estate
        }

        static var entries: [[String: Any]] {
            [
                [
                    "common_name": app, "sans": [app, "*.app.lab.test"], "guest_id": 101, "guest_type": "lxc",
                    "cert_path": "/certs/app.crt", "key_path": "/certs/app.key", "owner": "root:www-data", "permissions": "640",
                    "guest_cert_path": "/etc/nginx/ssl/app.crt", "guest_key_path": "/etc/nginx/ssl/app.key",
                ],
                ["common_name": ip, "sans": [ip, "127.0.0.1", "10.0.0.111"], "cert_path": "/certs/ip.crt", "key_path": "/certs/ip.key"],
                ["common_name": client, "cert_type": "client", "cert_path": "/certs/client.crt", "key_path": "/certs/client.key"],
            ]
        }

        func writeManifest(_ entries: [[String: Any]]) throws {
            try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted, .sortedKeys]).write(
                to: URL(fileURLWithPath: directory.file("etc/certificate-manifest.json")))
        }

        func editEntry(_ name: String, _ change: (inout [String: Any]) -> Void) throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory.file("etc/certificate-manifest.json")))
            var entries = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            for index in entries.indices where entries[index]["common_name"] as? String == name { change(&entries[index]) }
            try writeManifest(entries)
        }

        func phoenix(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
            let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
            try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
            let flags = ["--config-dir", etc, "--state", directory.file("state.sqlite"), "--host-root", host, "--guest-root", guests, "--progress", "none"]
            let env = try #require(TestPaths.program("env"))
            return try Command.run(env, environment.map { "\($0.key)=\($0.value)" } + [binary] + arguments + flags, timeout: 120)
        }

        func json(_ arguments: [String], status: Int32) throws -> [String: Any] {
            let result = try phoenix(arguments + ["--format", "json"])
            #expect(result.status == status, "\(arguments): \(result.stdout.suffix(3000)) \(result.stderr.suffix(2000))")
            return try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "not JSON: \(result.stdout) \(result.stderr)")
        }

        /// Each certificate's outcome in a sync's JSON, by common name.
        func outcomes(_ document: [String: Any]) -> [String: String] {
            let resources = (document["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
            var outcomes: [String: String] = [:]
            for resource in resources {
                guard let id = resource["resource"] as? String else { continue }
                outcomes[String(id.dropFirst("cert:".count))] = resource["status"] as? String
            }
            return outcomes
        }

        func file(_ path: String) -> String? { try? String(contentsOfFile: host + path, encoding: .utf8) }

        func ownership(_ path: String) throws -> String {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = String(format: "%04o", (attributes[.posixPermissions] as? Int) ?? 0)
            return "\(attributes[.ownerAccountName] as? String ?? "?"):\(attributes[.groupOwnerAccountName] as? String ?? "?") \(mode)"
        }

        /// `certs status --format json`, by common name.
        func status() throws -> [String: [String: Any]] {
            let document = try json(["certs", "status"], status: 0)
            var byName: [String: [String: Any]] = [:]
            for cert in document["certificates"] as? [[String: Any]] ?? [] { byName[cert["common_name"] as? String ?? ""] = cert }
            return byName
        }
    }

    @Test("issue every entry, then nothing: a no-op has zero sign calls; the IP-SAN entry is not re-issued; owner and mode as declared")
    func issueThenNothing() throws {
        let estate = try Estate.make("phoenix-certs-issue")
        defer { estate.ca.stop() }
        let firstRun = try estate.phoenix(["sync", "certs", "--format", "json"])
        #expect(firstRun.status == 0, "\(firstRun.stdout) \(firstRun.stderr)")
        let first = try #require(try JSONSerialization.jsonObject(with: Data(firstRun.stdout.utf8)) as? [String: Any])
        #expect(estate.outcomes(first) == [Estate.app: "issued", Estate.ip: "issued", Estate.client: "issued"])
        #expect(estate.ca.requests("/1.0/sign") == 3)

        // Installed as declared: the key root:www-data 0640, the certificate 0644, in the guest too.
        #expect(try estate.ownership(estate.host + "/certs/app.key") == "root:www-data 0640")
        #expect(try estate.ownership(estate.host + "/certs/app.crt") == "root:www-data 0644")
        #expect(try estate.ownership(estate.host + "/certs/ip.key") == "root:root 0600")
        #expect(try estate.ownership(estate.guests + "/101/etc/nginx/ssl/app.key") == "root:www-data 0640")
        #expect(try String(contentsOfFile: estate.guests + "/101/etc/nginx/ssl/app.crt", encoding: .utf8) == estate.file("/certs/app.crt"))

        // What was issued, as status reads it: DNS and IP names apart, the key matching.
        let status = try estate.status()
        #expect(status[Estate.ip]?["ip_sans"] as? [String] == ["10.0.0.111", "127.0.0.1"])
        #expect(status[Estate.ip]?["dns_sans"] as? [String] == [Estate.ip])
        #expect(status[Estate.app]?["dns_sans"] as? [String] == ["*.app.lab.test", Estate.app])
        #expect(status[Estate.client]?["dns_sans"] as? [String] == [Estate.client])
        for name in [Estate.app, Estate.ip, Estate.client] {
            #expect(status[name]?["state"] as? String == "valid", "\(name): \(status[name] ?? [:])")
            #expect(status[name]?["key_matches"] as? Bool == true)
            #expect(((status[name]?["seconds_left"] as? Double) ?? 0) > 23 * 3600)
        }
        let certificate = try #require(estate.file("/certs/app.crt"))
        let statusJSON = try estate.phoenix(["certs", "status", "--format", "json"])
        #expect(statusJSON.status == 0, "\(statusJSON.stdout) \(statusJSON.stderr)")
        let listed = (try JSONSerialization.jsonObject(with: Data(statusJSON.stdout.utf8)) as? [String: Any])?["certificates"] as? [[String: Any]] ?? []
        #expect(listed.count == 3, "the status lists every certificate: \(statusJSON.stdout)")
        #expect(!statusJSON.stdout.contains("PRIVATE KEY"))

        // Right after: nothing to do, no sign call, the files untouched (the original re-issued
        // the IP-SAN entries every hour).
        let second = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(second) == [Estate.app: "unchanged", Estate.ip: "unchanged", Estate.client: "unchanged"])
        #expect(estate.ca.requests("/1.0/sign") == 3)
        #expect(estate.file("/certs/app.crt") == certificate)
        let text = try estate.phoenix(["sync", "certs"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("certs: 3 certificates as configured (0 issued)"), "\(text.stdout)")

        // The keys are in the key files only: not in the output, the JSON, the state store.
        let key = try #require(estate.file("/certs/app.key"))
        let keyBody = key.split(separator: "\n").dropFirst().first.map(String.init) ?? "?"
        let state = try Data(contentsOf: URL(fileURLWithPath: estate.directory.file("state.sqlite")))
        let outputs = [firstRun.stdout, firstRun.stderr, text.stdout, text.stderr]
        #expect(!String(decoding: state, as: UTF8.self).contains("PRIVATE KEY"))
        #expect(!String(decoding: state, as: UTF8.self).contains(keyBody))
        #expect(!outputs.contains { $0.contains("PRIVATE KEY") || $0.contains(keyBody) })
    }

    @Test("IPv6 SANs beside IPv4 and DNS names: issued as such, then a no-op (0 sign calls), also when the manifest writes the addresses differently")
    func ipv6() throws {
        let name = "v6.lab.test"
        let entry: [String: Any] = [
            "common_name": name, "sans": [name, "10.0.0.111", "::1", "FD00::5"], "cert_path": "/certs/v6.crt", "key_path": "/certs/v6.key",
        ]
        let estate = try Estate.make("phoenix-certs-ipv6", entries: [entry])
        defer { estate.ca.stop() }
        let first = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(first) == [name: "issued"])
        #expect(estate.ca.requests("/1.0/sign") == 1)

        // What step-ca signed, read by openssl (not by phoenix): both families as IP SANs.
        let openssl = try #require(TestPaths.program("openssl"))
        let sans = try Command.run(openssl, ["x509", "-noout", "-ext", "subjectAltName", "-in", estate.host + "/certs/v6.crt"])
        try #require(sans.status == 0, "openssl: \(sans.stderr)")
        for expected in ["DNS:\(name)", "IP Address:10.0.0.111", "IP Address:0:0:0:0:0:0:0:1", "IP Address:FD00:0:0:0:0:0:0:5"] {
            #expect(sans.stdout.contains(expected), "\(expected) in \(sans.stdout)")
        }
        let status = try estate.status()[name]
        #expect(status?["ip_sans"] as? [String] == ["10.0.0.111", "::1", "fd00::5"], "\(status ?? [:])")
        #expect(status?["state"] as? String == "valid")

        // Nothing to do: not now, and not when the same addresses are written another way.
        let certificate = estate.file("/certs/v6.crt")
        let second = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(second) == [name: "unchanged"])
        #expect(estate.ca.requests("/1.0/sign") == 1)
        try estate.editEntry(name) { $0["sans"] = [name, "10.0.0.111", "0:0::1", "fd00:0000:0:0:0:0:0:0005", "::ffff:10.0.0.111"] }
        let plan = try estate.phoenix(["plan", "certs", "--detailed-exitcode"])
        #expect(plan.status == 0, "another spelling is no change: \(plan.stdout) \(plan.stderr)")
        let third = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(third) == [name: "unchanged"])
        #expect(estate.ca.requests("/1.0/sign") == 1)
        #expect(estate.file("/certs/v6.crt") == certificate)

        // Another address is a change, said as one: the old one dropped, the new one added.
        try estate.editEntry(name) { $0["sans"] = [name, "10.0.0.111", "::1", "fd00::6"] }
        let changed = try estate.phoenix(["plan", "certs"])
        #expect(changed.stdout.contains("IP addresses +fd00::6 -fd00::5"), "\(changed.stdout) \(changed.stderr)")
        let fourth = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(fourth) == [name: "issued"])
        #expect(estate.ca.requests("/1.0/sign") == 2)
        #expect(try estate.status()[name]?["ip_sans"] as? [String] == ["10.0.0.111", "::1", "fd00::6"])
    }

    @Test("one bad SAN fails its own certificate only, named by its JSON pointer: the others are issued and stay valid")
    func oneBadSAN() throws {
        var entries = Estate.entries
        entries.append(["common_name": "bad.lab.test", "sans": ["bad.lab.test", "fd00::zz"], "cert_path": "/certs/bad.crt", "key_path": "/certs/bad.key"])
        let estate = try Estate.make("phoenix-certs-bad-san", entries: entries)
        defer { estate.ca.stop() }

        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        let validate = try Command.run(binary, ["validate", "--config-dir", estate.etc, "--format", "json"])
        #expect(validate.status == 65, "validate still says the manifest has an error: \(validate.stdout)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any])
        let errors = report["errors"] as? [[String: Any]] ?? []
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?["pointer"] as? String == "/3/sans/1" && errors.first?["resource"] as? String == "cert:bad.lab.test", "\(errors)")

        // The plan of the others is made; the bad entry's cannot be: the plan is incomplete (exit 1).
        let plan = try estate.phoenix(["plan", "certs"])
        #expect(plan.status == 1 && plan.stderr.contains("the plan is incomplete: cert could not be planned"), "\(plan.stdout) \(plan.stderr)")
        #expect(plan.stdout.contains("certs: cert:bad.lab.test: cannot converge: its manifest entry "), "\(plan.stdout)")
        #expect(plan.stdout.contains("certs: cert:\(Estate.app): ~ issue (missing)"), "\(plan.stdout)")

        let run = try estate.phoenix(["sync", "certs", "--format", "json"])
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        #expect(
            run.stderr.contains(#"certificate-manifest.json#/3/sans/1: "fd00::zz" is neither a DNS name nor an IP address (cert:bad.lab.test is left out)"#),
            "\(run.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(estate.outcomes(document) == [Estate.app: "issued", Estate.ip: "issued", Estate.client: "issued", "bad.lab.test": "failed"])
        let resources = (document["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        let error = resources.first { ($0["resource"] as? String) == "cert:bad.lab.test" }?["error"] as? String ?? ""
        #expect(error.contains("certificate-manifest.json#/3/sans/1"), "\(error)")
        #expect(estate.ca.requests("/1.0/sign") == 3)
        #expect(estate.file("/certs/bad.crt") == nil)
        let status = try estate.status()
        #expect(status.keys.sorted() == ["app.lab.test", "bad.lab.test", "client.lab.test", "ip.lab.test"])
        for name in [Estate.app, Estate.ip, Estate.client] { #expect(status[name]?["state"] as? String == "valid", "\(name): \(status[name] ?? [:])") }
        #expect(status["bad.lab.test"]?["state"] as? String == "invalid")

        // Fixed: only that one is issued now.
        try estate.editEntry("bad.lab.test") { $0["sans"] = ["bad.lab.test", "fd00::2"] }
        let fixed = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(fixed) == [Estate.app: "unchanged", Estate.ip: "unchanged", Estate.client: "unchanged", "bad.lab.test": "issued"])
        #expect(estate.ca.requests("/1.0/sign") == 4)
    }

    @Test("renewal inside the window goes through /1.0/renew (same key, new serial); a SAN added is a fresh sign; a hand-changed mode is put back")
    func renewAndChange() throws {
        let estate = try Estate.make("phoenix-certs-renew")
        defer { estate.ca.stop() }
        _ = try estate.json(["sync", "certs"], status: 0)
        let before = try estate.status()
        let key = try #require(estate.file("/certs/app.key"))
        let serialBefore = try #require(before[Estate.app]?["serial"] as? String, "\(before)")

        try estate.editEntry(Estate.app) { $0["renew_before"] = "25h" }
        let plan = try estate.phoenix(["plan", "certs"])
        #expect(plan.stdout.contains("cert:\(Estate.app): ~ renew (renew-due)"), "\(plan.stdout) \(plan.stderr)")
        let renewed = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(renewed)[Estate.app] == "renewed")
        #expect(estate.outcomes(renewed)[Estate.ip] == "unchanged")
        #expect(estate.ca.requests("/1.0/renew") == 1)
        #expect(estate.ca.requests("/1.0/sign") == 3)
        #expect(estate.file("/certs/app.key") == key)
        let after = try estate.status()
        let serialAfter = try #require(after[Estate.app]?["serial"] as? String, "\(after)")
        #expect(serialAfter != serialBefore)
        #expect(after[Estate.app]?["key_matches"] as? Bool == true)
        try estate.editEntry(Estate.app) { $0["renew_before"] = nil }

        try estate.editEntry(Estate.ip) { $0["sans"] = [Estate.ip, "extra.lab.test", "127.0.0.1", "10.0.0.111"] }
        let changed = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(changed)[Estate.ip] == "issued")
        #expect(estate.ca.requests("/1.0/sign") == 4)
        #expect(try estate.status()[Estate.ip]?["dns_sans"] as? [String] == ["extra.lab.test", Estate.ip])

        chmod(estate.host + "/certs/app.key", 0o644)
        let status = try estate.status()
        #expect((status[Estate.app]?["reasons"] as? [String] ?? []).contains { $0.contains("/certs/app.key is root:www-data 0644") })
        let repaired = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(repaired)[Estate.app] == "reinstalled")
        #expect(try estate.ownership(estate.host + "/certs/app.key") == "root:www-data 0640")
        #expect(estate.ca.requests("/1.0/sign") == 4)
    }

    @Test("a failing hook restores the previous certificate and exits 1 while the other certificate renews")
    func failingHook() throws {
        let estate = try Estate.make("phoenix-certs-hook")
        defer { estate.ca.stop() }
        // A shell hook may reload anything: with no place to check it is refused before any change.
        try estate.editEntry(Estate.client) { $0["post_renewal_command"] = "true" }
        let unchecked = try estate.json(["sync", "certs"], status: 1)
        #expect(estate.outcomes(unchecked)[Estate.client] == "failed")
        #expect(estate.file("/certs/client.crt") == nil, "nothing issued blind")
        #expect(estate.ca.requests("/1.0/sign") == 2, "the other two were signed, not this one")

        // Opted out (warned): these hooks run unchecked from here on.
        for name in [Estate.ip, Estate.client] { try estate.editEntry(name) { $0["verify"] = false } }
        let warned = try estate.phoenix(["plan", "certs"])
        #expect(
            (warned.stdout + warned.stderr).contains("cert:\(Estate.client): ~ warning: not checked where it is served (verify: false)"),
            "\(warned.stdout) \(warned.stderr)")
        try estate.editEntry(Estate.ip) { $0["post_renewal_command"] = "exit 3" }
        try FileManager.default.removeItem(atPath: estate.host + "/certs/ip.crt")
        let first = try estate.json(["sync", "certs"], status: 1)
        #expect(estate.outcomes(first)[Estate.client] == "issued")
        #expect(estate.outcomes(first)[Estate.ip] == "failed")
        #expect(estate.file("/certs/ip.crt") == nil, "a first issue whose hook fails leaves nothing behind")

        try estate.editEntry(Estate.ip) { $0["post_renewal_command"] = nil }
        _ = try estate.json(["sync", "certs"], status: 0)
        let previous = try #require(estate.file("/certs/ip.crt"))
        try estate.editEntry(Estate.ip) { $0["post_renewal_command"] = "exit 3" }
        let plan = try estate.phoenix(["plan", "certs", "--force", Estate.ip])
        #expect(plan.stdout.contains("warning: runs its hook through sh -c on the host"), "\(plan.stdout)")
        let forced = try estate.json(["sync", "certs", "--force", Estate.ip, "--force", Estate.client], status: 1)
        #expect(estate.outcomes(forced)[Estate.ip] == "failed")
        #expect(estate.outcomes(forced)[Estate.client] == "renewed")
        let resources = (forced["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        let error = resources.first { ($0["resource"] as? String) == "cert:\(Estate.ip)" }?["error"] as? String ?? ""
        #expect(error.contains("exit 3") && error.contains("the previous certificate and key are back"), "\(error)")
        #expect(estate.file("/certs/ip.crt") == previous)

        // A hook that hangs is stopped at hook_timeout_seconds and counts as failed.
        try PatchedEstate.edit(estate.etc + "/phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var stepCA = phoenix["step_ca"] as! [String: Any]
            stepCA["hook_timeout_seconds"] = 1
            phoenix["step_ca"] = stepCA
            root["phoenix"] = phoenix
        }
        try estate.editEntry(Estate.ip) { $0["post_renewal_command"] = "sleep 30" }
        let hung = try estate.json(["certs", "renew", Estate.ip], status: 1)
        let hungError =
            ((hung["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []).first {
                ($0["resource"] as? String) == "cert:\(Estate.ip)"
            }?["error"] as? String ?? ""
        #expect(hungError.contains("failed on the host (exit 124)"), "killed at the timeout (124), not left to run: \(hungError)")
        #expect(estate.file("/certs/ip.crt") == previous)
    }

    @Test("a wrong provisioner password names the file, not the password; an unreachable CA is a clear error")
    func badCA() throws {
        let estate = try Estate.make("phoenix-certs-bad")
        defer { estate.ca.stop() }
        try "not-the-password\n".write(toFile: estate.ca.passwordFile, atomically: true, encoding: .utf8)
        let wrong = try estate.phoenix(["sync", "certs"])
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("the password in /ca/password.txt does not decrypt the key of provisioner phoenix"), "\(wrong.stdout) \(wrong.stderr)")
        #expect(!(wrong.stdout + wrong.stderr).contains("not-the-password"))
        #expect(estate.file("/certs/app.crt") == nil)

        estate.ca.stop()
        let down = try estate.phoenix(["sync", "files", "certs"])
        #expect(down.status == 1)
        #expect(down.stdout.contains("Step-CA \(estate.ca.url): GET /roots failed: connection refused"), "\(down.stdout) \(down.stderr)")
        // The other stage of the run converged regardless: the stack files are on the host.
        let mirrored = (try? FileManager.default.subpathsOfDirectory(atPath: estate.host + "/tank/stacks")) ?? []
        #expect(mirrored.contains { $0.hasSuffix("docker-compose.yml") }, "\(mirrored) \(down.stdout)")
    }

    @Test("a real nginx serves the renewed certificate, checked by fingerprint; a reload that does not take is undone", .needs(.nginx))
    func servedByNginx() throws {
        let nginx = try realProgram("nginx")
        let estate = try Estate.make("phoenix-certs-nginx")
        defer { estate.ca.stop() }
        _ = try estate.json(["sync", "certs"], status: 0)

        // nginx in "guest 101" (a folder) serving the installed copy on a free loopback port.
        let guest = estate.guests + "/101"
        let port = FreePort.allocate()
        let conf = guest + "/etc/nginx/nginx.conf"
        try """
        worker_processes 1;
        pid \(guest)/nginx.pid;
        error_log \(guest)/nginx-error.log info;
        events { worker_connections 64; }
        http {
            access_log off;
            server {
                listen 127.0.0.1:\(port) ssl;
                ssl_certificate \(guest)/etc/nginx/ssl/app.crt;
                ssl_certificate_key \(guest)/etc/nginx/ssl/app.key;
                location / { return 200 "ok\\n"; }
            }
        }

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let control = ["-c", conf, "-p", guest + "/", "-e", guest + "/nginx-error.log"]
        let started = try Command.run(nginx, control)
        try #require(started.status == 0, "nginx: \(started.stderr)")
        defer {
            if let pid = try? String(contentsOfFile: guest + "/nginx.pid", encoding: .utf8),
                let number = Int32(pid.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(number, SIGQUIT)
            }
        }
        try PatchedEstate.edit(estate.etc + "/phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["services"] = ["nginx": ["reload": [nginx] + control + ["-s", "reload"]]]
            var stepCA = phoenix["step_ca"] as! [String: Any]
            stepCA["timeout_seconds"] = 3
            phoenix["step_ca"] = stepCA
            root["phoenix"] = phoenix
        }
        try estate.editEntry(Estate.app) {
            $0["post_renewal_command"] = "pct exec 101 -- systemctl reload nginx"
            $0["verify_at"] = ["127.0.0.1:\(port)"]
        }
        let issued = try #require(try estate.status()[Estate.app])
        let before = try #require(issued["served"] as? [[String: Any]], "\(issued)")
        #expect(before.count == 1 && before.first?["matches"] as? Bool == true, "\(before)")
        let issuedFingerprint = try #require(issued["fingerprint"] as? String, "\(issued)")
        #expect(before.first?["fingerprint"] as? String == issuedFingerprint)

        // Renewed: nginx reloaded by the hook, the served leaf is the new one.
        let renewal = try estate.phoenix(["certs", "renew", Estate.app, "--format", "json", "--stats"])
        #expect(renewal.status == 0, "\(renewal.stdout.suffix(3000)) \(renewal.stderr.suffix(2000))")
        let renewed = try #require(try JSONSerialization.jsonObject(with: Data(renewal.stdout.utf8)) as? [String: Any], "\(renewal.stdout)")
        #expect(estate.outcomes(renewed)[Estate.app] == "renewed", "\(renewed)")
        // One stats line counts the hook's reload of nginx and the renewal's calls to Step-CA.
        let stats = renewal.stderr.split(separator: "\n").filter { $0.hasPrefix("stats: ") }
        #expect(stats.count == 1, "\(renewal.stderr)")
        let reloads = stats.first.flatMap { $0.firstMatch(of: /(\d+) reloads or restarts/).flatMap { Int($0.1) } } ?? 0
        let caCalls = stats.first.flatMap { $0.firstMatch(of: /(\d+) Step-CA/).flatMap { Int($0.1) } } ?? 0
        #expect(reloads == 1 && caCalls > 0, "\(stats)")
        let resources = (renewed["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        let fingerprint = try #require(
            resources.first { ($0["resource"] as? String) == "cert:\(Estate.app)" }?["fingerprint"] as? String, "the renewal's fingerprint: \(renewed)")
        #expect(fingerprint != issuedFingerprint, "a renewal is a new leaf")
        let after = try #require(try estate.status()[Estate.app])
        #expect(try #require(after["fingerprint"] as? String, "\(after)") == fingerprint)
        let served = try #require((after["served"] as? [[String: Any]])?.first, "\(after)")
        #expect(served["fingerprint"] as? String == fingerprint && served["matches"] as? Bool == true, "\(served)")

        // A hook that does not make nginx load it: the old leaf is still served, so the new files
        // are undone and the run fails saying what is served.
        try estate.editEntry(Estate.app) { $0["post_renewal_command"] = "true" }
        let installed = try #require(estate.file("/certs/app.crt"))
        let stale = try estate.json(["sync", "certs", "--force", Estate.app], status: 1)
        let failed = ((stale["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []).first { ($0["resource"] as? String) == "cert:\(Estate.app)" }
        let error = failed?["error"] as? String ?? ""
        #expect(error.contains("verify_at 127.0.0.1:\(port) serves \(fingerprint), not the new "), "\(error)")
        #expect(error.contains("the previous certificate and key are back"), "\(error)")
        #expect(estate.file("/certs/app.crt") == installed)
        #expect(try String(contentsOfFile: guest + "/etc/nginx/ssl/app.crt", encoding: .utf8) == installed)
    }

    @Test("a crash at every failpoint of sync certs: the next run converges, then nothing is left to do")
    func crashes() throws {
        let estate = try Estate.make("phoenix-certs-crash")
        defer { estate.ca.stop() }
        _ = try estate.json(["sync", "certs"], status: 0)
        var round = 0
        for name in [Estate.app, Estate.ip] {
            for phase in ["before", "installed", "after"] {
                round += 1
                // A SAN per round, so the crashing certificate has work to crash in.
                try estate.editEntry(name) { entry in
                    let kept = (entry["sans"] as? [String] ?? []).filter { !$0.hasPrefix("round") }
                    entry["sans"] = kept + ["round\(round).lab.test"]
                }
                let path = name == Estate.app ? "/certs/app.crt" : "/certs/ip.crt"
                let old = try #require(estate.file(path))
                let crashed = try estate.phoenix(["sync", "certs"], environment: ["PHOENIX_FAILPOINT": "cert:\(name):\(phase):crash"])
                #expect(crashed.status == 86, "\(name) \(phase): \(crashed.stdout)\(crashed.stderr)")
                // What the crash left: before, the old certificate; installed and after, the new one (with this round's SAN).
                let left = try #require(try estate.status()[name])
                let holdsNew = (left["dns_sans"] as? [String] ?? []).contains("round\(round).lab.test")
                #expect(holdsNew == (phase != "before"), "\(name) \(phase): \(left)")
                #expect(
                    (estate.file(path) == old) == (phase == "before"), "\(name) \(phase): \(path) holds the \(phase == "before" ? "old" : "new") certificate")
                let next = try estate.json(["sync", "certs"], status: 0)
                // before: nothing was done, so it is issued now; installed: the files are in place but
                // were never reloaded and checked; after: reloaded but never read back. Both are
                // finished now (the journal says the crashed run left them open).
                let expected = ["before": "issued", "installed": "reinstalled", "after": "reinstalled"][phase]
                #expect(estate.outcomes(next)[name] == expected, "\(name) \(phase): \(next)")
                let plan = try estate.phoenix(["plan", "certs", "--detailed-exitcode"])
                #expect(plan.status == 0, "\(name) \(phase): nothing left: \(plan.stdout)")
                let status = try estate.status()[name]
                #expect((status?["dns_sans"] as? [String] ?? []).contains("round\(round).lab.test"))
                #expect(status?["key_matches"] as? Bool == true)
            }
        }
        let history = try Command.run("\(TestPaths.packageRoot)/.build/debug/phoenix", ["history", "--state", estate.directory.file("state.sqlite")])
        #expect(history.stdout.contains("interrupted"), "the crashed runs show as interrupted: \(history.stdout) \(history.stderr)")
    }

    @Test("drift finds a certificate replaced by hand and a key whose mode was changed; sync repairs both")
    func drift() throws {
        let estate = try Estate.make("phoenix-certs-drift")
        defer { estate.ca.stop() }
        _ = try estate.json(["sync", "certs"], status: 0)
        let clean = try estate.phoenix(["drift", "certs"])
        #expect(clean.status == 0, "\(clean.stdout) \(clean.stderr)")
        #expect(clean.stdout.contains("No certificate drift: 3 certificates as phoenix installed them."), "\(clean.stdout)")

        // By hand: the client's files replaced with another valid pair, the app key made world-readable.
        for suffix in ["crt", "key"] {
            let other = try String(contentsOfFile: estate.host + "/certs/ip.\(suffix)", encoding: .utf8)
            try other.write(toFile: estate.host + "/certs/client.\(suffix)", atomically: true, encoding: .utf8)
        }
        chmod(estate.host + "/certs/app.key", 0o644)
        let drifted = try estate.phoenix(["drift", "certs"])
        #expect(drifted.status == 2, "\(drifted.stdout) \(drifted.stderr)")
        #expect(drifted.stdout.contains("changed by hand: cert:\(Estate.client): /certs/client.crt holds serial"), "\(drifted.stdout)")
        #expect(drifted.stdout.contains("changed by hand: cert:\(Estate.app): the host /certs/app.key is root:www-data 0644"), "\(drifted.stdout)")
        #expect(drifted.stdout.contains("2 of 3 certificates drifted."), "\(drifted.stdout)")

        let repaired = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(repaired) == [Estate.app: "reinstalled", Estate.ip: "unchanged", Estate.client: "issued"])
        #expect(try estate.phoenix(["drift", "certs"]).status == 0)
    }

    @Test("an expired certificate is signed afresh (renew needs a valid one)")
    func expired() throws {
        let entry: [String: Any] = ["common_name": "short.lab.test", "cert_path": "/certs/short.crt", "key_path": "/certs/short.key", "lifetime": "3s"]
        let estate = try Estate.make("phoenix-certs-expired", entries: [entry])
        defer { estate.ca.stop() }
        _ = try estate.json(["sync", "certs"], status: 0)
        var state: String?
        try waitFor("the 3 s certificate to expire", timeout: 15, interval: 0.5, detail: { "state \(state ?? "-")" }) {
            state = try estate.status()["short.lab.test"]?["state"] as? String
            return state == "expired"
        }
        let again = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(again)["short.lab.test"] == "issued")
        #expect(estate.ca.requests("/1.0/sign") == 2)
        #expect(estate.ca.requests("/1.0/renew") == 0)
    }
}
