import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixTesting
import Testing

/// A real OpenSSH server on a free loopback port, with a host key and a client key the test makes.
/// It stands in for a Proxmox node reached with `--ssh` (the node is this machine, as root).
final class TestSSHServer {
    let directory: TemporaryDirectory
    let port = FreePort.allocate()
    private let server: RunningProcess

    var key: String { directory.file("client_key") }
    /// What phoenix would find in the operator's ssh configuration: the port, the key, no known_hosts.
    var options: [String] {
        ["-p", String(port), "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    }

    /// A started server (the tests name `.openSSH` and `.rsync` in their traits): a missing program fails the test.
    static func make() throws -> TestSSHServer {
        for program in ["sshd", "ssh", "ssh-keygen", "rsync"] { _ = try realProgram(program) }
        return try TestSSHServer()
    }

    private init() throws {
        directory = try TemporaryDirectory("phoenix-ssh")
        let keygen = try #require(TestPaths.program("ssh-keygen"))
        for name in ["host_key", "client_key"] {
            let made = try Command.run(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", directory.file(name)])
            try #require(made.status == 0, "ssh-keygen: \(made.stderr)")
        }
        try FileManager.default.copyItem(atPath: directory.file("client_key.pub"), toPath: directory.file("authorized_keys"))
        chmod(directory.file("authorized_keys"), 0o600)
        server = try LoopbackSSHD.start(port: port, directory: directory)
        let port = self.port
        #expect(waitUntil(timeout: 10) { Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 0.5) }, "sshd did not start: \(server.log)")
    }

    deinit {
        // The multiplexing master phoenix's ssh left (ControlPersist), then the server, both by their own handles.
        if let ssh = TestPaths.program("ssh") {
            _ = try? Command.run(ssh, ["-o", "ControlPath=/tmp/phoenix-ssh-%C", "-O", "exit"] + options + ["root@127.0.0.1"])
        }
        server.stop()
    }
}

@Suite("A node reached with ssh (a real sshd on loopback)", .serialized, .needs(.openSSH, .rsync))
struct SSHMachineTests {
    @Test("files written, read, renamed and removed over ssh; odd names stay one argument; contents on stdin; rsync through the same connection")
    func machineContract() async throws {
        let server = try TestSSHServer.make()
        let node = SSHMachine(destination: "root@127.0.0.1", options: server.options)
        let work = try TemporaryDirectory("phoenix-ssh-files")

        let path = work.file("it's a \"test\" $(touch \(work.file("owned"))) ; echo.conf")
        let contents = "host-record=gateway.lab.example.net,10.0.0.1\n# quotes ' \" and $HOME stay as they are\n"
        try await node.write(path, contents, mode: "0640")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == contents)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o640, "mode \(String(mode, radix: 8))")
        #expect(!FileManager.default.fileExists(atPath: work.file("owned")), "nothing in a path is run by the remote shell")

        #expect(try await node.read(path) == contents)
        #expect(try await node.read(work.file("absent")) == nil)
        let all = try await node.read(all: [path, work.file("absent")])
        #expect(all[path] == .some(contents) && all[work.file("absent")] == .some(nil))
        try await node.rename(path, to: work.file("renamed"))
        #expect(try await node.read(work.file("renamed")) == contents)
        try await node.remove(work.file("renamed"))
        #expect(!FileManager.default.fileExists(atPath: work.file("renamed")))
        let failing = try await node.run(["sh", "-c", "echo broken >&2; exit 3"], timeout: 10)
        #expect(failing.status == 3 && failing.stderr.contains("broken"))

        // rsync over the same ssh options, as the files stage sends stack files to a remote node.
        try work.write("source/web/docker-compose.yml", "services: {}\n")
        let target = try #require(node.rsyncTarget(work.file("stacks dir")))
        let rsync = try Command.run(
            try #require(TestPaths.program("rsync")),
            ["--archive", "--mkpath"] + target.options + ["--", work.file("source") + "/", target.destination + "/"])
        #expect(rsync.status == 0, "\(rsync.stderr)")
        #expect(try String(contentsOfFile: work.file("stacks dir/web/docker-compose.yml"), encoding: .utf8) == "services: {}\n")
    }

    @Test("phoenix sync files --ssh: the stack files reach the node over ssh and rsync; a second run changes nothing")
    func syncOverSSH() async throws {
        let server = try TestSSHServer.make()
        let work = try PatchedEstate.exampleCopy("phoenix-ssh-sync")
        // The node is this machine: its stacks path is a folder of this test.
        try PatchedEstate.edit(work.file("etc/phoenix_hypervisor_config.json")) { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["stacks_path"] = work.file("node-stacks")
            root["phoenix"] = phoenix
        }
        // What an operator keeps in ~/.ssh/config, in a file of its own (--ssh-config, ssh -F).
        try work.write(
            "ssh_config",
            """
            Host *
                Port \(server.port)
                IdentityFile \(server.key)
                StrictHostKeyChecking no
                UserKnownHostsFile /dev/null
                LogLevel ERROR
            """)
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        let arguments = [
            "sync", "files", "--ssh", "root@127.0.0.1", "--ssh-config", work.file("ssh_config"), "--config-dir", work.file("etc"), "--state",
            work.file("state.sqlite"), "--stats",
        ]
        let first = try Command.run(binary, arguments, timeout: 120)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let sent = try String(contentsOfFile: work.file("node-stacks/whoami/docker-compose.yml"), encoding: .utf8)
        #expect(sent == (try String(contentsOfFile: work.file("stacks/whoami/docker-compose.yml"), encoding: .utf8)))
        let second = try Command.run(binary, arguments, timeout: 120)
        #expect(second.status == 0 && second.stdout.contains("No changes"), "\(second.stdout)\(second.stderr)")
    }

    @Test("an unreachable node is a clear error naming the host and saying ssh could not connect")
    func unreachable() async throws {
        let server = try TestSSHServer.make()
        var options = server.options
        options[1] = String(FreePort.allocate())  // nothing listens there
        let node = SSHMachine(destination: "root@127.0.0.1", options: options)
        do {
            _ = try await node.read("/etc/hostname")
            Issue.record("an unreachable node was read")
        } catch {
            #expect(error.description.contains("the host root@127.0.0.1"), "\(error.description)")
            #expect(error.description.contains("ssh could not connect"), "\(error.description)")
        }
    }
}
