import Foundation
import PhoenixTesting
import Testing

/// What openssl says of certificates, independently of phoenix: fingerprints as phoenix prints them
/// (lowercase hex SHA-256 of the DER, no colons).
enum OpenSSL {
    static func fingerprint(ofFile path: String) throws -> String {
        let result = try Command.run(try realProgram("openssl"), ["x509", "-noout", "-fingerprint", "-sha256", "-in", path])
        try #require(result.status == 0, "openssl x509 -in \(path): \(result.stderr)")
        let value = try #require(result.stdout.split(separator: "=").last.map(String.init), "\(result.stdout)")
        return value.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// The leaf `host:port` presents, read with `openssl s_client` (through `wrapper`, e.g. nsenter).
    static func served(
        host: String, port: Int, serverName: String, wrapper: [String] = [], extra: [String] = [], in directory: TemporaryDirectory
    )
        throws -> String
    {
        switch try read(host: host, port: port, serverName: serverName, wrapper: wrapper, extra: extra, in: directory) {
        case let .success(fingerprint): return fingerprint
        case let .failure(problem): throw problem
        }
    }

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Like `served`, with what went wrong as a value (for polling: a server still starting).
    static func read(
        host: String, port: Int, serverName: String, wrapper: [String] = [], extra: [String] = [], in directory: TemporaryDirectory
    )
        throws -> Result<String, Problem>
    {
        let openssl = try realProgram("openssl")
        let argv = wrapper + [openssl, "s_client", "-connect", "\(host):\(port)", "-servername", serverName] + extra
        let result = try Command.run(argv[0], Array(argv.dropFirst()), timeout: 20)
        guard result.status == 0 else {
            return .failure(Problem(description: "openssl s_client \(host):\(port): exit \(result.status): \(result.stderr.suffix(800))"))
        }
        guard let begin = result.stdout.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = result.stdout.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<result.stdout.endIndex)
        else { return .failure(Problem(description: "no certificate from \(host):\(port): \(result.stdout.prefix(800))")) }
        let file = directory.file("served-\(host)-\(port)-\(UUID().uuidString).pem")
        try (String(result.stdout[begin.lowerBound..<end.upperBound]) + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let fingerprinted = try Command.run(openssl, ["x509", "-noout", "-fingerprint", "-sha256", "-in", file])
        guard fingerprinted.status == 0, let value = fingerprinted.stdout.split(separator: "=").last else {
            return .failure(Problem(description: "openssl x509 on what \(host):\(port) served: \(fingerprinted.stderr)"))
        }
        return .success(value.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
    }
}

/// The servers of a served-endpoint test, started and restarted by Examples/lab/bin/lab-service
/// (the tests' stand-in for systemctl): RUN/NAME.cmd holds a server's argv, RUN/NAME.pid its pid.
struct LabServices {
    let run: String
    let labService = "\(TestPaths.packageRoot)/Examples/lab/bin/lab-service"

    func command(_ name: String, _ verb: String) -> [String] { [labService, run, name, verb] }

    func start(_ name: String, _ argv: [String]) throws {
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try (argv.joined(separator: "\n") + "\n").write(toFile: "\(run)/\(name).cmd", atomically: true, encoding: .utf8)
        let started = try Command.run(labService, [run, name, "start"])
        try #require(started.status == 0, "lab-service start \(name): \(started.stderr)")
    }

    func stop(_ names: [String]) {
        for name in names { _ = try? Command.run(labService, [run, name, "stop"]) }
    }
}

extension CertTests {
    /// A certificate phoenix finds served without `verify_at`: at the gateway's HTTPS port on the
    /// gateway guest's address, or at Traefik's websecure entry point on the ingress guest's, when
    /// its guest copy is the file that server is configured with. Guest 101 gets 127.0.0.1, guest
    /// 102 127.0.0.2; nginx and Traefik run here, on those addresses, serving the guests' copies
    /// (the guests are folders). Both start on a stranger's certificate (TestCertificates).
    struct ServedEstate {
        let estate: Estate
        let work: TemporaryDirectory
        let services: LabServices
        let gatewayPort = FreePort.allocate()
        let traefikPort = FreePort.allocate()
        let placeholder: TestCertificates
        static let gateway = "gateway.lab.test"
        static let traefik = "traefik.lab.test"
        var gatewayCopy: String { estate.guests + "/101/etc/nginx/ssl/gw.crt" }
        var traefikCopy: String { estate.guests + "/102/etc/traefik/certs/traefik.crt" }

        init(_ label: String) throws {
            let entries: [[String: Any]] = [
                [
                    "common_name": Self.gateway, "sans": [Self.gateway, "127.0.0.1"], "guest_id": 101, "guest_type": "lxc",
                    "cert_path": "/certs/gw.crt", "key_path": "/certs/gw.key",
                    "guest_cert_path": "/etc/nginx/ssl/gw.crt", "guest_key_path": "/etc/nginx/ssl/gw.key",
                ],
                [
                    "common_name": Self.traefik, "sans": [Self.traefik, "127.0.0.2"], "guest_id": 102, "guest_type": "lxc",
                    "cert_path": "/certs/traefik.crt", "key_path": "/certs/traefik.key",
                    "guest_cert_path": "/etc/traefik/certs/traefik.crt", "guest_key_path": "/etc/traefik/certs/traefik.key",
                ],
            ]
            estate = try Estate.make(label, entries: entries)
            work = try TemporaryDirectory("phoenix-served")
            services = LabServices(run: work.file("run"))
            placeholder = try TestCertificates(in: work)
            let (gatewayPort, traefikPort, services) = (gatewayPort, traefikPort, services)
            try PatchedEstate.editContainer(101, in: estate.etc) {
                $0["secondary_network_config"] = ["name": "eth1", "bridge": "vmbr100", "ip": "127.0.0.1/8"]
            }
            try PatchedEstate.editContainer(102, in: estate.etc) { $0["network_config"] = ["name": "eth0", "bridge": "vmbr100", "ip": "127.0.0.2/8"] }
            try PatchedEstate.edit(estate.etc + "/phoenix_hypervisor_config.json") { root in
                var phoenix = root["phoenix"] as! [String: Any]
                phoenix["gateway"] = ["https_listen": "127.0.0.1:\(gatewayPort)", "cert_file": "/etc/nginx/ssl/gw.crt", "key_file": "/etc/nginx/ssl/gw.key"]
                phoenix["traefik"] = [
                    "entrypoints": ["websecure": "127.0.0.2:\(traefikPort)"], "cert_file": "/etc/traefik/certs/traefik.crt",
                    "key_file": "/etc/traefik/certs/traefik.key",
                ]
                phoenix["services"] = [
                    "nginx": ["reload": services.command("nginx", "reload")], "traefik": ["restart": services.command("traefik", "restart")],
                ]
                var stepCA = phoenix["step_ca"] as! [String: Any]
                stepCA["timeout_seconds"] = 5
                phoenix["step_ca"] = stepCA
                root["phoenix"] = phoenix
            }
            // The stranger's certificate in both guests' places, where the servers start on it.
            for (copy, key) in [(gatewayCopy, "gw"), (traefikCopy, "traefik")] {
                let folder = (copy as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: placeholder.cert, toPath: copy)
                try FileManager.default.copyItem(atPath: placeholder.key, toPath: "\(folder)/\(key).key")
            }
        }

        /// nginx in "guest 101" on 127.0.0.1, Traefik in "guest 102" on 127.0.0.2 (websecure, TLS
        /// with the default store's certificate), both serving the guests' copies.
        func startServers() throws {
            let guest101 = estate.guests + "/101"
            try """
            daemon off;
            worker_processes 1;
            pid \(work.file("run/nginx-master.pid"));
            error_log \(work.file("run/nginx-error.log")) info;
            events { worker_connections 64; }
            http {
                access_log off;
                server {
                    listen 127.0.0.1:\(gatewayPort) ssl;
                    ssl_certificate \(guest101)/etc/nginx/ssl/gw.crt;
                    ssl_certificate_key \(guest101)/etc/nginx/ssl/gw.key;
                    location / { return 200 "ok\\n"; }
                }
            }

            """.write(toFile: work.file("nginx.conf"), atomically: true, encoding: .utf8)
            let guest102 = estate.guests + "/102"
            try """
            entryPoints:
              websecure:
                address: "127.0.0.2:\(traefikPort)"
            providers:
              file:
                filename: \(work.file("dynamic.yml"))
            log:
              level: INFO
              noColor: true

            """.write(toFile: work.file("traefik.yml"), atomically: true, encoding: .utf8)
            try """
            http:
              routers:
                all:
                  entryPoints: [websecure]
                  rule: "PathPrefix(`/`)"
                  service: noop@internal
                  tls: {}
            tls:
              stores:
                default:
                  defaultCertificate:
                    certFile: \(guest102)/etc/traefik/certs/traefik.crt
                    keyFile: \(guest102)/etc/traefik/certs/traefik.key

            """.write(toFile: work.file("dynamic.yml"), atomically: true, encoding: .utf8)
            try services.start(
                "nginx", [try realProgram("nginx"), "-c", work.file("nginx.conf"), "-p", work.path + "/", "-e", work.file("run/nginx-error.log")])
            try services.start("traefik", [try realProgram("traefik"), "--configFile=\(work.file("traefik.yml"))"])
        }

        func stopServers() { services.stop(["nginx", "traefik"]) }

        /// Waits until `host:port` serves the certificate in `file` (a server starting takes a moment).
        func waitServed(host: String, port: Int, serverName: String, file: String) throws {
            let wanted = try OpenSSL.fingerprint(ofFile: file)
            var last = ""
            try waitFor("\(host):\(port) to serve \(file)", timeout: 20, interval: 0.2, detail: { last }) {
                switch try OpenSSL.read(host: host, port: port, serverName: serverName, in: work) {
                case let .success(fingerprint): last = fingerprint
                case let .failure(problem): last = problem.description
                }
                return last == wanted
            }
        }
    }

    @Test(
        "the gateway's and Traefik's certificates are checked where the configuration says they are served (no verify_at): a server still on another leaf fails the check and the files go back; reloaded, it passes",
        .needs(.nginx, .traefik, .openssl))
    func derivedGatewayAndTraefik() throws {
        let served = try ServedEstate("phoenix-certs-served")
        defer { served.estate.ca.stop() }
        let estate = served.estate
        try served.startServers()
        defer { served.stopServers() }
        try served.waitServed(host: "127.0.0.1", port: served.gatewayPort, serverName: ServedEstate.gateway, file: served.placeholder.cert)
        try served.waitServed(host: "127.0.0.2", port: served.traefikPort, serverName: ServedEstate.traefik, file: served.placeholder.cert)
        let stranger = try OpenSSL.fingerprint(ofFile: served.placeholder.cert)
        let endpoints = [
            ServedEstate.gateway: ("the gateway", "127.0.0.1:\(served.gatewayPort)"), ServedEstate.traefik: ("Traefik", "127.0.0.2:\(served.traefikPort)"),
        ]

        // Hooks that reload nothing: each server still presents the stranger's leaf, so the check
        // at the derived endpoint fails, and the previous files (the stranger's) are back.
        for name in [ServedEstate.gateway, ServedEstate.traefik] { try estate.editEntry(name) { $0["post_renewal_command"] = "true" } }
        let stale = try estate.json(["sync", "certs"], status: 1)
        let staleResources = (stale["certs"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
        for (name, (what, address)) in endpoints {
            let item = try #require(staleResources.first { $0["resource"] as? String == "cert:\(name)" }, "\(stale)")
            let error = item["error"] as? String ?? ""
            #expect(error.contains("\(what) \(address) serves \(stranger), not the new "), "\(name): \(error)")
            #expect(error.contains("the previous files are back and the ones that did not exist were removed"), "\(name): \(error)")
        }
        #expect(try OpenSSL.fingerprint(ofFile: served.gatewayCopy) == stranger, "the gateway's copy is the previous file again")
        #expect(try OpenSSL.fingerprint(ofFile: served.traefikCopy) == stranger, "Traefik's copy is the previous file again")
        #expect(estate.file("/certs/gw.crt") == nil && estate.file("/certs/traefik.crt") == nil, "a first issue that fails leaves nothing on the host")

        // The original's hooks, which reload nginx and restart Traefik: the new leaves are served.
        try estate.editEntry(ServedEstate.gateway) { $0["post_renewal_command"] = "pct exec 101 -- systemctl reload nginx" }
        try estate.editEntry(ServedEstate.traefik) { $0["post_renewal_command"] = "pct exec 102 -- systemctl restart traefik" }
        let plan = try estate.phoenix(["plan", "certs"])
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        #expect(!plan.stdout.contains("no address to check"), "both are found served: \(plan.stdout)")
        let issued = try estate.json(["sync", "certs"], status: 0)
        #expect(estate.outcomes(issued) == [ServedEstate.gateway: "issued", ServedEstate.traefik: "issued"], "\(issued)")
        let status = try estate.status()
        for (name, (what, address)) in endpoints {
            let copy = name == ServedEstate.gateway ? served.gatewayCopy : served.traefikCopy
            let installed = try OpenSSL.fingerprint(ofFile: copy)
            #expect(installed != stranger)
            let certificate = try #require(status[name], "\(status)")
            #expect(certificate["fingerprint"] as? String == installed, "\(certificate)")
            let endpoint = try #require((certificate["served"] as? [[String: Any]])?.first, "\(certificate)")
            #expect(endpoint["at"] as? String == address && endpoint["what"] as? String == what, "\(endpoint)")
            #expect(endpoint["fingerprint"] as? String == installed && endpoint["matches"] as? Bool == true, "\(endpoint)")
            // And as openssl reads it, not phoenix.
            let host = String(address.split(separator: ":")[0])
            #expect(try OpenSSL.served(host: host, port: Int(address.split(separator: ":")[1])!, serverName: name, in: served.work) == installed)
        }
    }
}

extension SwarmTests {
    @Test(
        "a Docker daemon's certificate is checked at its TCP endpoint (phoenix.docker.endpoints, no verify_at): a daemon still on another leaf fails the check and the files go back; restarted, it serves the new one",
        .needs(.stepCA, .openssl))
    func derivedDockerEndpoint() throws {
        let pki = try TemporaryDirectory("phoenix-docker-served")
        let stranger = try TestCertificates(in: pki)
        let client = try Self.clientCertificate(ca: stranger.ca, caKey: pki.file("ca.key"), in: pki, name: "phoenix")
        // VM 1001 is a folder (--guest-root): its daemon starts on the stranger's certificate, from the place phoenix installs to.
        let guests = pki.file("guests")
        let tlsFolder = guests + "/1001/etc/docker/tls"
        try FileManager.default.createDirectory(atPath: tlsFolder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: stranger.cert, toPath: tlsFolder + "/cert.pem")
        try FileManager.default.copyItem(atPath: stranger.key, toPath: tlsFolder + "/key.pem")
        let lab = try DockerLab(names: ["swarm-manager"], tls: (stranger.ca, tlsFolder + "/cert.pem", tlsFolder + "/key.pem"))
        let tls: [String: Any] = ["ca_file": stranger.ca, "cert_file": client.cert, "key_file": client.key]
        let estate = try SwarmEstate(lab: lab, endpoint: "tcp://127.0.0.1:2376", tls: tls)
        let host = estate.directory.file("host")
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        // phoenix runs in the daemon's namespace (where its TCP socket listens), so step-ca does too.
        let namespace = [try realProgram("nsenter"), "--net=/run/netns/\(lab.nodes[0].namespace)"]
        let ca = try StepCALab.start(in: host + "/ca", wrapper: namespace)
        defer { ca.stop() }
        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["step_ca"] = ["url": ca.url, "password_file": "/ca/password.txt", "root_file": "/ca/certs/root_ca.crt", "timeout_seconds": 15]
            root["phoenix"] = phoenix
            root["step_ca"] = ["provisioner_name": "phoenix"]
        }
        let name = "docker.lab.test"
        let entry: [String: Any] = [
            "common_name": name, "sans": [name, "127.0.0.1"], "guest_id": 1001, "guest_type": "vm", "cert_path": "/certs/docker.crt",
            "key_path": "/certs/docker.key", "guest_cert_path": "/etc/docker/tls/cert.pem", "guest_key_path": "/etc/docker/tls/key.pem",
            "post_renewal_command": "qm guest exec 1001 -- systemctl restart docker",
        ]
        try JSONSerialization.data(withJSONObject: [entry]).write(to: URL(fileURLWithPath: estate.directory.file("etc/certificate-manifest.json")))

        // `systemctl` in the VM is a stand-in on phoenix's PATH: first one that restarts nothing.
        let bin = pki.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        func systemctl(_ body: String) throws {
            try
                "#!/bin/sh\n# Stands in for systemctl in VM 1001 (a folder here).\n[ \"$1 $2\" = \"restart docker\" ] || { echo \"systemctl stand-in: $*\" >&2; exit 64; }\n\(body)\n"
                .write(toFile: bin + "/systemctl", atomically: true, encoding: .utf8)
            chmod(bin + "/systemctl", 0o755)
        }
        try systemctl("exit 0")
        let environment = ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        let roots = ["--host-root", host, "--guest-root", guests, "--format", "json"]
        let strangerPrint = try OpenSSL.fingerprint(ofFile: stranger.cert)
        let clientFlags = ["-cert", client.cert, "-key", client.key]
        #expect(try OpenSSL.served(host: "127.0.0.1", port: 2376, serverName: name, wrapper: namespace, extra: clientFlags, in: pki) == strangerPrint)

        let stale = try estate.phoenix(["sync", "certs"] + roots, environment: environment, namespace: 0)
        #expect(stale.status == 1, "\(stale.stdout)\(stale.stderr)")
        let staleDocument = try #require(try JSONSerialization.jsonObject(with: Data(stale.stdout.utf8)) as? [String: Any], "\(stale.stdout)\(stale.stderr)")
        let staleItem = ((staleDocument["certs"] as? [String: Any])?["resources"] as? [[String: Any]])?.first { $0["resource"] as? String == "cert:\(name)" }
        let error = staleItem?["error"] as? String ?? ""
        #expect(error.contains("the Docker daemon 127.0.0.1:2376 serves \(strangerPrint), not the new "), "\(error)")
        #expect(error.contains("the previous files are back and the ones that did not exist were removed"), "\(error)")
        #expect(try OpenSSL.fingerprint(ofFile: tlsFolder + "/cert.pem") == strangerPrint, "the daemon's files are the previous ones again")

        // The stand-in now restarts the lab's daemon (lab-service, by its pid), as systemd would.
        let labService = "\(TestPaths.packageRoot)/Examples/lab/bin/lab-service"
        try systemctl("exec \(labService) \(try lab.serviceFolder(0)) dockerd restart")
        let issued = try estate.phoenix(["sync", "certs"] + roots, environment: environment, namespace: 0)
        #expect(issued.status == 0, "\(issued.stdout)\(issued.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: Any], "\(issued.stdout)\(issued.stderr)")
        let item = try #require(
            ((document["certs"] as? [String: Any])?["resources"] as? [[String: Any]])?.first { $0["resource"] as? String == "cert:\(name)" })
        #expect(item["status"] as? String == "issued", "\(item)")
        let fingerprint = try #require(item["fingerprint"] as? String, "\(item)")
        #expect(fingerprint != strangerPrint)
        #expect(try OpenSSL.fingerprint(ofFile: tlsFolder + "/cert.pem") == fingerprint)
        #expect(try OpenSSL.served(host: "127.0.0.1", port: 2376, serverName: name, wrapper: namespace, extra: clientFlags, in: pki) == fingerprint)
        // A docker client that trusts only step-ca's root now reaches the daemon.
        let version = try lab.inNamespace(
            0,
            [
                try realProgram("docker"), "-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", ca.rootFile, "--tlscert", client.cert, "--tlskey",
                client.key, "version",
            ],
            timeout: 30)
        #expect(version.status == 0, "\(version.stderr)")
    }
}
