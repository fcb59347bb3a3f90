import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixTesting
import Testing

/// A real LXC container (LXC 5, busybox template, no network) under a temporary LXC path. It plays
/// a Proxmox container: `Fixtures/pct-standin/pct` turns `pct exec`/`pct push` into `lxc-attach`,
/// since `pct` exists only on a Proxmox node.
final class StandInContainer: Sendable {
    let directory: TemporaryDirectory
    let id: Int
    static let standIn = "\(TestPaths.packageRoot)/Tests/PhoenixIntegrationTests/Fixtures/pct-standin"

    var lxcPath: String { directory.path }
    var rootfs: String { directory.file("ct\(id)/rootfs") }

    /// A started container (the tests name `.lxc` in their traits): missing LXC, or a container
    /// that cannot start here, fails the test.
    static func make(id: Int) throws -> StandInContainer {
        for program in ["lxc-create", "lxc-start", "lxc-attach", "lxc-stop", "lxc-destroy"] { _ = try realProgram(program) }
        return try StandInContainer(id: id)
    }

    private init(id: Int) throws {
        self.id = id
        directory = try TemporaryDirectory("phoenix-lxc")
        let name = "ct\(id)"
        let created = try Command.run(TestPaths.program("lxc-create")!, ["-P", lxcPath, "-n", name, "-t", "busybox"], timeout: 60)
        try #require(created.status == 0, "lxc-create: \(created.stderr)")
        // No network (lxcbr0 does not exist here) and no AppArmor profile to load.
        let configFile = directory.file("\(name)/config")
        var config = try String(contentsOfFile: configFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        config.removeAll { $0.hasPrefix("lxc.net.0.") || $0.hasPrefix("lxc.apparmor.") }
        config += ["lxc.net.0.type = empty", "lxc.apparmor.profile = unconfined"]
        try config.joined(separator: "\n").write(toFile: configFile, atomically: true, encoding: .utf8)
        let started = try Command.run(TestPaths.program("lxc-start")!, ["-P", lxcPath, "-n", name, "-o", directory.file("lxc.log")], timeout: 60)
        try #require(started.status == 0, "lxc-start: \(started.stderr) \((try? String(contentsOfFile: directory.file("lxc.log"), encoding: .utf8)) ?? "")")
    }

    deinit {
        // -k: busybox init ignores the polite SIGUSR1, and lxc-stop would wait for it.
        _ = try? Command.run(TestPaths.program("lxc-stop")!, ["-P", lxcPath, "-n", "ct\(id)", "-k"], timeout: 30)
        _ = try? Command.run(TestPaths.program("lxc-destroy")!, ["-P", lxcPath, "-n", "ct\(id)"], timeout: 30)
    }

    /// The `pct` calls the stand-in received ("exec 101", "push 101").
    var calls: [String] {
        ((try? String(contentsOfFile: directory.file("pct-calls.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// The node as phoenix sees it: this machine, where `pct` is the stand-in for the container.
struct StandInNode: Machine {
    let container: StandInContainer
    let local = LocalMachine(name: "the node")
    var name: String { local.name }

    func commandPath(_ path: String) -> String { path }
    func read(_ path: String) async throws(MachineError) -> String? { try await local.read(path) }
    func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) { try await local.write(path, contents, mode: mode) }
    func rename(_ from: String, to: String) async throws(MachineError) { try await local.rename(from, to: to) }
    func remove(_ path: String) async throws(MachineError) { try await local.remove(path) }
    func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        guard argv.first == "pct" else { return try await local.run(argv, timeout: timeout) }
        return try await local.run(["env", "PCT_LXC_PATH=\(container.lxcPath)", "\(StandInContainer.standIn)/pct"] + argv.dropFirst(), timeout: timeout)
    }
}

@Suite("Commands in containers through pct (a real LXC container stands in for a Proxmox CT)", .serialized, .needs(.lxc))
struct PctTests {
    @Test("files written, read, renamed and removed in a real container through pct push/exec; odd names stay one argument")
    func machineContract() async throws {
        let container = try StandInContainer.make(id: 101)
        let guest = PctGuestMachine(id: 101, host: StandInNode(container: container))

        let path = "/etc/phoenix/it's a \"test\" $(touch /tmp/owned).conf"
        let contents = "server_name gateway.lab.example.net;\n# quotes ' \" and $HOME stay as they are\n"
        try await guest.write(path, contents, mode: "0640")
        let inside = container.rootfs + path
        #expect(try String(contentsOfFile: inside, encoding: .utf8) == contents)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: inside)[.posixPermissions] as? Int)
        #expect(mode == 0o640, "mode \(String(mode, radix: 8))")
        #expect(!FileManager.default.fileExists(atPath: container.rootfs + "/tmp/owned"), "nothing in a path is run by a shell")

        #expect(try await guest.read(path) == contents)
        #expect(try await guest.read("/etc/phoenix/absent.conf") == nil)
        // A file put there from outside (the busybox template's /etc/inittab) is read as it is.
        let inittab = try String(contentsOfFile: container.rootfs + "/etc/inittab", encoding: .utf8)
        let all = try await guest.read(all: [path, "/etc/phoenix/absent.conf", "/etc/inittab"])
        #expect(all[path] == .some(contents))
        #expect(all["/etc/phoenix/absent.conf"] == .some(nil))
        #expect(all["/etc/inittab"] == .some(inittab))

        try await guest.rename(path, to: "/etc/phoenix/renamed.conf")
        #expect(!FileManager.default.fileExists(atPath: inside))
        #expect(try await guest.read("/etc/phoenix/renamed.conf") == contents)
        try await guest.remove("/etc/phoenix/renamed.conf")
        #expect(!FileManager.default.fileExists(atPath: container.rootfs + "/etc/phoenix/renamed.conf"))

        let hostname = try await guest.run(["hostname"], timeout: 10)
        #expect(hostname.status == 0 && hostname.stdout == "ct101\n", "\(hostname.stdout)\(hostname.stderr)")
        let failing = try await guest.run(["sh", "-c", "echo broken >&2; exit 3"], timeout: 10)
        #expect(failing.status == 3 && failing.stderr.contains("broken"), "a command's failure comes back as its status")
        #expect(container.calls.contains("push 101") && container.calls.contains("exec 101"), "\(container.calls)")
    }

    @Test("a command through pct past its timeout leaves nothing of it running in the container")
    func timeoutInContainer() async throws {
        let container = try StandInContainer.make(id: 101)
        let guest = PctGuestMachine(id: 101, host: StandInNode(container: container))
        // The shell's child notes its pid (as the container numbers it) in the container's /tmp.
        let result = try await guest.run(["sh", "-c", "sleep 600 & echo $! > /tmp/sleep.pid; wait; echo x"], timeout: 1)
        #expect(result.status == 124, "killed at the timeout: \(result.excerpt)")
        #expect(result.stdout.isEmpty)
        let noted = try String(contentsOfFile: container.rootfs + "/tmp/sleep.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(Int(noted), "the pid the shell noted: \(noted)")
        // Asked inside the container: the sleep is gone (or a zombie, dead, that init reaps).
        let env = try #require(TestPaths.program("env"))
        var seen = ""
        try waitFor("the command's sleep to be gone from the container", detail: { seen }) {
            let stat = try Command.run(
                env, ["PCT_LXC_PATH=\(container.lxcPath)", "\(StandInContainer.standIn)/pct", "exec", "101", "--", "cat", "/proc/\(pid)/stat"], timeout: 30)
            seen = stat.status == 0 ? stat.stdout : "gone"
            return stat.status != 0 || ProcessStat(stat: stat.stdout).map { $0.state == "Z" || $0.state == "X" } == true
        }
    }

    @Test("phoenix plan reads the gateway guest through pct (no --guest-root): a file edited in the container is found")
    func planThroughPct() async throws {
        let container = try StandInContainer.make(id: 101)
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        let work = try TemporaryDirectory("phoenix-pct-plan")
        let site = "/etc/nginx/conf.d/phoenix-gateway.conf"
        try FileManager.default.createDirectory(atPath: container.rootfs + "/etc/nginx/conf.d", withIntermediateDirectories: true)
        try "# edited by hand in the container\n".write(toFile: container.rootfs + site, atomically: true, encoding: .utf8)

        let path = "\(StandInContainer.standIn):" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let env = try #require(TestPaths.program("env"))
        let result = try Command.run(
            env,
            [
                "PATH=\(path)", "PCT_LXC_PATH=\(container.lxcPath)", binary, "plan", "gateway", "--format", "json", "--stats",
                "--config-dir", "\(TestPaths.exampleEstate)/etc", "--state", work.file("state.sqlite"), "--host-root", work.file("host"),
            ],
            timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let changes = (document["changes"] as? [[String: Any]]) ?? []
        let gatewaySite = try #require(changes.first { ($0["path"] as? String) == site }, "\(result.stdout)")
        #expect(gatewaySite["action"] as? String == "update", "the hand-edited file differs from the rendered site: \(gatewaySite)")
        let stream = try #require(changes.first { ($0["id"] as? String) == "gateway:stream" })
        #expect(stream["action"] as? String == "create", "a file absent in the container is to be created")
        #expect(container.calls.contains("exec 101"), "the guest was read through pct exec: \(container.calls)")
        #expect(result.stderr.contains("round trips"), "\(result.stderr)")
    }
}

@Suite("pct through the host (a recorded transport)")
struct PctArgvTests {
    @Test("a guest is reached with pct exec and pct push through its host")
    func pct() async throws {
        let recorder = RecordingTransport()
        let host = SSHMachine(destination: "pve1", transport: recorder.transport)
        let guest = PctGuestMachine(id: 101, host: host)
        _ = try await guest.run(["nginx", "-t"], timeout: 5)
        try await guest.write("/etc/nginx/conf.d/x.conf", "server {}", mode: "0644")
        let remote = recorder.calls.map { Array($0.argv.drop { $0 != "--" }.dropFirst()) }
        #expect(remote[0] == ["'pct'", "'exec'", "'101'", "'--'", "'nginx'", "'-t'"])
        #expect(remote.contains { $0.starts(with: ["'pct'", "'push'", "'101'"]) && $0.suffix(3) == ["'/etc/nginx/conf.d/x.conf'", "'--perms'", "'0644'"] })
    }
}
