import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixTesting
import Testing

/// The lab of scripts/lab.sh in a temporary directory with free ports, for tests: real dnsmasq,
/// nginx (with the stream module) and, when asked, Traefik, started and reloaded by
/// Examples/lab/bin/lab-service (which stands in for systemctl). A folder stands in for the Proxmox
/// host's `/`, one folder per guest stands in for the containers (pct exec/push), and a Python HTTP
/// server on a free port stands in for the Proxmox API the firewall stage must still reach.
final class SyncLab {
    let directory: TemporaryDirectory
    let ports: [String: Int]
    let certificates: TestCertificates
    private let management: RunningProcess

    var root: String { directory.path }
    var config: String { directory.file("etc") }
    var run: String { directory.file("run") }
    var state: String { directory.file("state.sqlite") }
    /// How the commands name the state store: the SQLite file above, unless a test points them
    /// elsewhere (a PostgreSQL URL and its password file).
    var stateArguments: [String] = []
    var host: String { directory.file("host") }
    func guest(_ id: Int) -> String { directory.file("guests/\(id)") }
    var recordsFile: String { directory.file("host/etc/phoenix/dnsmasq/phoenix.hosts") }
    var siteFile: String { guest(101) + "/etc/nginx/conf.d/phoenix-gateway.conf" }
    var streamFile: String { guest(101) + "/etc/nginx/stream.d/phoenix-gateway.conf" }

    /// A lab with its servers' programs (the tests name `.syncLab`, and `.traefik` with `traefik`,
    /// in their traits): a missing one fails the test.
    static func make(traefik: Bool = false) throws -> SyncLab {
        for program in ["dnsmasq", "nginx", "python3", "openssl"] { _ = try realProgram(program) }
        return try SyncLab(traefik: traefik ? try realProgram("traefik") : nil)
    }

    private init(traefik: String?) throws {
        directory = try TemporaryDirectory("phoenix-sync")
        let names = ["dns", "http", "https", "stream", "web", "websecure", "mesh", "dashboard", "management"]
        ports = Dictionary(uniqueKeysWithValues: names.map { ($0, FreePort.allocate()) })
        let fileManager = FileManager.default
        for path in [
            "bin", "run", "host", "guests/101/etc/nginx/conf.d", "guests/101/etc/nginx/stream.d", "guests/101/var/www/html", "guests/102/etc/traefik/dynamic",
        ] {
            try fileManager.createDirectory(atPath: directory.file(path), withIntermediateDirectories: true)
        }
        try fileManager.copyItem(atPath: "\(TestPaths.packageRoot)/Examples/lab/bin/lab-service", toPath: directory.file("bin/lab-service"))
        certificates = try TestCertificates(in: directory)

        // The lab's configuration with this directory for /tmp/phoenix-lab and free ports for the fixed ones.
        try fileManager.createDirectory(atPath: directory.file("etc"), withIntermediateDirectories: true)
        for name in ["phoenix_hypervisor_config.json", "phoenix_lxc_configs.json", "phoenix_vm_configs.json"] {
            var text = try String(contentsOfFile: "\(TestPaths.packageRoot)/Examples/lab/etc/\(name)", encoding: .utf8)
            text = text.replacingOccurrences(of: "/tmp/phoenix-lab", with: directory.path)
            for (fixed, name) in [
                (15353, "dns"), (18080, "http"), (18443, "https"), (18444, "stream"), (19080, "web"), (19443, "websecure"), (19444, "mesh"),
                (19081, "dashboard"), (18006, "management"),
            ] {
                text = text.replacingOccurrences(of: String(fixed), with: String(ports[name]!))
            }
            try text.write(toFile: directory.file("etc/\(name)"), atomically: true, encoding: .utf8)
        }
        try Self.withoutCAAndSwarm(directory.file("etc"), certificates: certificates)

        let guest = directory.file("guests/101")
        let run = directory.file("run")
        try directory.write("guests/101/etc/nginx/modules.conf", "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n")
        try directory.write(
            "guests/101/etc/nginx/nginx.conf",
            """
            include \(guest)/etc/nginx/modules.conf;
            daemon off;
            worker_processes 1;
            pid \(run)/nginx-master.pid;
            error_log \(run)/nginx-error.log info;
            events { worker_connections 64; }
            http {
                access_log \(run)/nginx-access.log;
                client_body_temp_path \(run)/body; proxy_temp_path \(run)/proxy; fastcgi_temp_path \(run)/fastcgi;
                uwsgi_temp_path \(run)/uwsgi; scgi_temp_path \(run)/scgi;
                include \(guest)/etc/nginx/conf.d/*.conf;
            }
            stream { include \(guest)/etc/nginx/stream.d/*.conf; }
            """)
        let scratch = directory
        func command(_ service: String, _ argv: [String]) throws { try scratch.write("run/\(service).cmd", argv.joined(separator: "\n") + "\n") }
        try command(
            "dnsmasq",
            [
                "dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=\(directory.file("host/etc/dnsmasq.d/00-phoenix.conf"))",
                "--pid-file=\(run)/dnsmasq-own.pid",
            ])
        try command("nginx", ["nginx", "-c", "\(guest)/etc/nginx/nginx.conf", "-p", "\(guest)/", "-e", "\(run)/nginx-error.log"])
        if let traefik { try command("traefik", [traefik, "--configFile=\(directory.file("guests/102/etc/traefik/traefik.yml"))"]) }
        let python = try #require(TestPaths.program("python3"))
        management = try RunningProcess(
            python, ["-m", "http.server", String(ports["management"]!), "--bind", "127.0.0.1", "--directory", run], logFile: directory.file("management.log"))
    }

    /// The lab's estate (Examples/lab) declares a Step-CA, a Swarm manager and its stack too: the
    /// tests here are about the files' servers, so the gateway and Traefik serve the test's own
    /// certificates (made with openssl) instead of ones the CA issues, and the VMs go (the stacks
    /// file and the certificate manifest are not copied).
    private static func withoutCAAndSwarm(_ etc: String, certificates: TestCertificates) throws {
        try PatchedEstate.edit("\(etc)/phoenix_hypervisor_config.json") { root in
            root["step_ca"] = nil
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["step_ca"] = nil
            phoenix["docker"] = nil
            for server in ["gateway", "traefik"] {
                var settings = phoenix[server] as! [String: Any]
                settings["cert_file"] = certificates.cert
                settings["key_file"] = certificates.key
                settings["ca_file"] = certificates.ca
                phoenix[server] = settings
            }
            root["phoenix"] = phoenix
        }
        try PatchedEstate.edit("\(etc)/phoenix_vm_configs.json") { root in root["vms"] = [] }
    }

    deinit {
        for service in ["dnsmasq", "nginx", "traefik"] { _ = try? Command.run(directory.file("bin/lab-service"), [run, service, "stop"]) }
        management.stop()
    }

    /// Runs the built phoenix binary against this lab.
    func phoenix(_ arguments: [String], config: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
        let argv = try phoenixArgv(arguments, config: config, environment: environment)
        return try Command.run(argv[0], Array(argv.dropFirst()), timeout: 120)
    }

    /// The command line that runs the built phoenix binary against this lab (through `env`).
    func phoenixArgv(_ arguments: [String], config: String? = nil, environment: [String: String] = [:]) throws -> [String] {
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        let stateFlags = stateArguments.isEmpty ? ["--state", state] : stateArguments
        let flags = ["--config-dir", config ?? self.config, "--host-root", host, "--guest-root", directory.file("guests")] + stateFlags
        // `state migrate` names both stores itself.
        let global = arguments.starts(with: ["state", "migrate"]) ? [] : ["history", "state"].contains(arguments.first ?? "") ? stateFlags : flags
        // phoenix's scratch files in the lab's own folder: a run the tests kill leaves none behind in /tmp.
        try FileManager.default.createDirectory(atPath: directory.file("tmp"), withIntermediateDirectories: true)
        let variables = environment.merging(["TMPDIR": directory.file("tmp")]) { first, _ in first }
        let env = try #require(TestPaths.program("env"))
        return [env] + variables.map { "\($0.key)=\($0.value)" } + [binary] + arguments + global
    }

    /// Edits the lab's configuration (or a copy of it) as JSON.
    func edit(_ file: String, in configDirectory: String? = nil, _ change: (inout [String: Any]) -> Void) throws {
        try PatchedEstate.edit("\(configDirectory ?? config)/\(file)", change)
    }

    /// Edits `phoenix.gateway` of the hypervisor file (of the lab, or of a copy).
    func editGateway(in configDirectory: String? = nil, _ change: @escaping (inout [String: Any]) -> Void) throws {
        try edit("phoenix_hypervisor_config.json", in: configDirectory) { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var gateway = phoenix["gateway"] as! [String: Any]
            change(&gateway)
            phoenix["gateway"] = gateway
            root["phoenix"] = phoenix
        }
    }

    /// A copy of the configuration to edit without touching the lab's own.
    func configCopy(_ name: String) throws -> String {
        let copy = directory.file(name)
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: config, toPath: copy)
        return copy
    }

    func pid(_ service: String) -> Int32? {
        (try? String(contentsOfFile: "\(run)/\(service).pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: "\(run)/\(name)", encoding: .utf8)) ?? "" }

    /// Times dnsmasq re-read its records (a SIGHUP) and nginx reconfigured, from their logs.
    var reloads: (dnsmasq: Int, nginx: Int) {
        (
            log("dnsmasq.log").components(separatedBy: "read \(recordsFile)").count - 1,
            log("nginx-error.log").components(separatedBy: "reconfiguring").count - 1
        )
    }

    /// Every file under the host and guest folders and the state store: path, mode, mtime, contents digest.
    func treeChecksum() -> String {
        var lines: [String] = []
        for base in [host, directory.file("guests"), state] {
            let paths = (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? [""]).sorted()
            for relative in paths.isEmpty ? [""] : paths {
                let path = relative.isEmpty ? base : "\(base)/\(relative)"
                var status = stat()
                guard stat(path, &status) == 0 else { continue }
                let contents = FileManager.default.contents(atPath: path).map { Digest.sha256Hex(Array($0)) } ?? "-"
                lines.append("\(path) \(String(status.st_mode, radix: 8)) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec) \(contents)")
            }
        }
        return Digest.sha256Hex(lines.joined(separator: "\n"))
    }

    /// Staged or restored copies left behind.
    func leftovers() -> [String] {
        [host, directory.file("guests")].flatMap { base in
            (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? []).filter {
                $0.hasSuffix(".phoenix-new") || $0.hasSuffix(".phoenix-old")
            }
        }
    }

    func resolve(_ name: String) -> [IPv4Address] {
        Probe.resolve([name], server: IPv4Address("127.0.0.1")!, port: ports["dns"]!, timeout: 3)[name] ?? []
    }

    /// What the gateway's HTTP port answers for a name: the status and the redirect target.
    func gateway(port: Int? = nil, name: String = "grafana.lab.example.net") -> String {
        guard let response = Probe.http(host: IPv4Address("127.0.0.1")!, port: port ?? ports["http"]!, path: "/x", hostHeader: name, timeout: 3) else {
            return "no answer"
        }
        return "\(response.status) \(response.headers["location"] ?? "")"
    }
}
