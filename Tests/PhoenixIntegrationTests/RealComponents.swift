import Foundation
import PhoenixCLI
import PhoenixCore
import PhoenixServices
import PhoenixTesting
import Testing

extension Trait where Self == ConditionTrait {
    /// Skips the test or suite, with the reason, when one of `components` is missing; under the
    /// README's test command (PHOENIX_REQUIRE_REAL_COMPONENTS=1) it runs and fails on it instead.
    static func needs(_ components: Component...) -> Self {
        .enabled(if: Components.available(components), Comment(rawValue: Components.reason(components)))
    }
}

extension Component {
    /// What a SyncLab starts: dnsmasq, nginx, Python's HTTP server for the API; openssl makes its certificates.
    static let syncLab = Component.all("a SyncLab (dnsmasq, nginx with the stream module, python3, openssl)", [.dnsmasq, .nginx, .python3, .openssl])
}

/// The path of a real program the test's traits say it needs. Missing, it fails the test: the
/// traits skipped it already unless the README's test command requires every real component.
func realProgram(_ name: String) throws -> String {
    try #require(TestPaths.program(name), "\(name) is not on PATH; scripts/test.sh installs it")
}

/// Copies the example estate into a temporary directory and edits its hypervisor and LXC files, so
/// that the rendered services listen on free loopback ports and point at test paths.
struct PatchedEstate {
    let directory: TemporaryDirectory

    init(hypervisor: (inout [String: Any]) -> Void, containers: (inout [String: Any]) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory("phoenix-estate")
        let source = TestPaths.exampleEstate
        try FileManager.default.copyItem(atPath: "\(source)/etc", toPath: "\(directory.path)/etc")
        try FileManager.default.copyItem(atPath: "\(source)/stacks", toPath: "\(directory.path)/stacks")
        try Self.edit("\(directory.path)/etc/phoenix_hypervisor_config.json", hypervisor)
        try Self.edit("\(directory.path)/etc/phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            containers(&configs)
            root["lxc_configs"] = configs
        }
    }

    /// A copy of the example estate (etc and stacks) in a temporary directory, to edit. Its Swarm
    /// VMs' daemons are sockets that do not exist: the example's 10.77.0.x addresses are DNS data,
    /// never to be connected to (the Swarm tests point them at a DockerLab).
    static func exampleCopy(_ label: String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory(label)
        try FileManager.default.copyItem(atPath: "\(TestPaths.exampleEstate)/etc", toPath: directory.file("etc"))
        try FileManager.default.copyItem(atPath: "\(TestPaths.exampleEstate)/stacks", toPath: directory.file("stacks"))
        try edit(directory.file("etc/phoenix_hypervisor_config.json")) { root in
            var phoenix = root["phoenix"] as? [String: Any] ?? [:]
            phoenix["docker"] = ["endpoints": ["1001": "unix://\(directory.path)/no-daemon-1001.sock", "1002": "unix://\(directory.path)/no-daemon-1002.sock"]]
            root["phoenix"] = phoenix
        }
        return directory
    }

    /// Takes every VM of `etc` out of the Swarm (for tests about something else that run drift or sync all).
    static func withoutSwarm(_ etc: String) throws {
        try edit("\(etc)/phoenix_vm_configs.json") { root in
            root["vms"] = (root["vms"] as! [[String: Any]]).map { vm in
                var vm = vm
                vm["swarm_role"] = nil
                vm["docker_stacks"] = nil
                return vm
            }
        }
    }

    /// Edits one container's entry in the LXC file of the configuration directory `etc`.
    static func editContainer(_ id: Int, in etc: String, _ change: (inout [String: Any]) -> Void) throws {
        try edit("\(etc)/phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            var entry = configs[String(id)] as! [String: Any]
            change(&entry)
            configs[String(id)] = entry
            root["lxc_configs"] = configs
        }
    }

    static func edit(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        change(&object)
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    func render(_ stages: [RenderStage]) throws -> (Estate, RenderOutput) {
        let result = EstateLoader().load(ConfigReader(configDirectory: "\(directory.path)/etc", stacksDirectory: "\(directory.path)/stacks").read())
        #expect(result.report.isValid, "\(result.report.errors.map(\.message))")
        let estate = try #require(result.estate)
        return (estate, EstateRenderer(estate: estate, defaultNodeName: "pve1").render(stages))
    }
}

extension RenderOutput {
    func file(_ path: String) throws -> RenderedFile {
        try #require(files.first { $0.path == path }, "rendered \(files.map(\.path))")
    }
}

/// "Installs" a rendered file at its absolute path. Tests only install under their own temporary directories.
func install(_ file: RenderedFile) throws {
    precondition(file.path.hasPrefix("/tmp/"), "tests install only under /tmp")
    try FileManager.default.createDirectory(atPath: (file.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try file.contents.write(toFile: file.path, atomically: true, encoding: .utf8)
    chmod(file.path, 0o644)
}

/// A throw-away CA and a server certificate for `*.lab.example.net`, `localhost` and 127.0.0.1, made with openssl.
struct TestCertificates {
    let ca: String
    let cert: String
    let key: String

    init(
        in directory: TemporaryDirectory, subjectAltName: String = "DNS:*.lab.example.net,DNS:lab.example.net,DNS:localhost,IP:127.0.0.1"
    ) throws {
        let openssl = try #require(TestPaths.program("openssl"))
        ca = directory.file("ca.crt")
        cert = directory.file("server.crt")
        key = directory.file("server.key")
        let caKey = directory.file("ca.key")
        let csr = directory.file("server.csr")
        let ext = directory.file("server.ext")
        try "subjectAltName=\(subjectAltName)\nbasicConstraints=CA:FALSE\n".write(toFile: ext, atomically: true, encoding: .utf8)
        for arguments in [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2",
                "-subj", "/CN=Phoenix Test Root CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=gateway.lab.example.net"],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert],
        ] {
            let result = try Command.run(openssl, arguments)
            #expect(result.status == 0, "openssl \(arguments[0]): \(result.stderr)")
        }
        for path in [ca, cert, key] { chmod(path, 0o644) }
    }
}
