import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

@testable import PhoenixEngine

/// Records every argv a remote machine would run, standing in for ssh and pct.

@Suite("Machines")
struct MachineTests {
    @Test("ssh gets every argument single-quoted, so the remote shell sees it exactly as given")
    func sshQuoting() async throws {
        let recorder = RecordingTransport()
        let machine = SSHMachine(destination: "root@pve1", transport: recorder.transport)
        let hostile = "/etc/x; rm -rf / $(reboot) 'quoted'"
        try await machine.write(hostile, "contents", mode: "0640")
        let argv = try #require(recorder.calls.first?.argv)
        #expect(argv.prefix(1) == ["ssh"])
        #expect(argv.contains("root@pve1"))
        let remote = Array(argv.drop { $0 != "--" }.dropFirst())
        #expect(remote.last == "'0640'")
        #expect(remote[remote.count - 2] == #"'/etc/x; rm -rf / $(reboot) '\''quoted'\'''"#)
        #expect(recorder.calls.first?.input == "contents", "contents travel on stdin, never on the command line")
        // What a POSIX shell makes of the quoted word is the original argument.
        let echoed = try Command.run("/bin/sh", ["-c", "printf %s \(remote[remote.count - 2])"])
        #expect(echoed.stdout == hostile)
    }

    @Test("a missing remote file reads as absent; other failures name the machine and the operation, with what the remote side said")
    func sshRead() async throws {
        let directory = try TemporaryDirectory("phoenix-ssh-read")
        let recorder = RecordingTransport()
        // The remote side is a real /bin/sh running phoenix's read script, as sshd would.
        recorder.answer = { argv in
            let remote = argv.drop { $0 != "--" }.dropFirst().joined(separator: " ")
            return (try? ProcessRunner.run(["/bin/sh", "-c", remote])) ?? CommandResult(status: 255, stdout: "", stderr: "")
        }
        let machine = SSHMachine(destination: "pve1", transport: recorder.transport)
        #expect(try await machine.read(directory.file("missing")) == nil)
        // A directory where a file should be: the remote cat's own complaint is the reason.
        do throws(MachineError) {
            _ = try await machine.read(directory.path)
            Issue.record("reading a directory succeeded")
        } catch {
            #expect(error.machine == "the host pve1" && error.operation == "read \(directory.path)", "\(error)")
            #expect(error.reason.lowercased().contains("directory"), "the reason comes from the remote side: \(error.reason)")
        }
    }

    @Test("ssh's remote side, played by a local /bin/sh: writes, reads and a bulk read in one round trip")
    func sshThroughARealShell() async throws {
        let directory = try TemporaryDirectory("phoenix-ssh")
        let recorder = RecordingTransport()
        // What sshd does with the command line: hand it to the user's shell.
        recorder.answer = { argv in
            let remote = argv.drop { $0 != "--" }.dropFirst().joined(separator: " ")
            return (try? ProcessRunner.run(["/bin/sh", "-c", remote], input: recorder.calls.last?.input.map { Array($0.utf8) }))
                ?? CommandResult(status: 255, stdout: "", stderr: "")
        }
        let machine = SSHMachine(destination: "pve1", transport: recorder.transport)
        let first = directory.file("a dir/first.conf")
        let second = directory.file("second's.conf")
        try await machine.write(first, "line one\nline two\n", mode: "0640")
        try await machine.write(second, "", mode: "0600")
        #expect(try String(contentsOfFile: first, encoding: .utf8) == "line one\nline two\n")
        #expect((try FileManager.default.attributesOfItem(atPath: first)[.posixPermissions] as? Int) == 0o640)
        let before = recorder.calls.count
        let contents = try await machine.read(all: [first, second, directory.file("absent")])
        #expect(recorder.calls.count == before + 1, "one round trip")
        #expect(contents[first] == .some("line one\nline two\n"))
        #expect(contents[second] == .some(""))
        #expect(contents[directory.file("absent")] == .some(nil))
        #expect(try await machine.read(first) == "line one\nline two\n")
        #expect(try await machine.read(directory.file("absent")) == nil)
    }

    @Test("rsync's -e command keeps an option with spaces or quotes one word (rsync splits at spaces, honours quotes)")
    func rsyncCommand() async throws {
        let machine = SSHMachine(destination: "root@pve1", options: ["-F", "/etc/phoenix/ssh config", "-i", "/keys/o'brien key"])
        let target = try #require(machine.rsyncTarget("/tank/stacks"))
        #expect(target.destination == "root@pve1:/tank/stacks")
        let command = try #require(target.options.dropFirst().first)
        #expect(command.hasSuffix(#"-F '/etc/phoenix/ssh config' -i "/keys/o'brien key""#), "\(command)")
        #expect(command.hasPrefix("ssh -o BatchMode=yes"))
    }

    @Test("a failed ssh connection is tried three times; a failed remote command once")
    func sshRetries() async throws {
        let recorder = RecordingTransport()
        recorder.answer = { _ in CommandResult(status: 255, stdout: "", stderr: "ssh: connect to host pve1 port 22: Connection refused") }
        let machine = SSHMachine(destination: "pve1", transport: recorder.transport)
        await #expect(throws: MachineError.self) { try await machine.run(["true"], timeout: 5) }
        #expect(recorder.calls.count == 3)
        recorder.answer = { _ in CommandResult(status: 1, stdout: "", stderr: "no") }
        #expect(try await machine.run(["false"], timeout: 5).status == 1)
        #expect(recorder.calls.count == 4)
    }

    @Test("a local root folder stands in for /, and paths already inside it are taken as they are")
    func localRoot() async throws {
        let directory = try TemporaryDirectory("phoenix-machine")
        let machine = LocalMachine(name: "the host", root: directory.path)
        try await machine.write("/etc/pve/firewall/cluster.fw", "[OPTIONS]\n", mode: "0640")
        #expect(FileManager.default.fileExists(atPath: directory.file("etc/pve/firewall/cluster.fw")))
        #expect(machine.commandPath("/etc/x") == directory.path + "/etc/x")
        #expect(machine.commandPath(directory.file("inside")) == directory.file("inside"))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("etc/pve/firewall/cluster.fw"))
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
        #expect(try await machine.read("/etc/pve/firewall/cluster.fw") == "[OPTIONS]\n")
        #expect(try await machine.read("/etc/absent") == nil)
        try await machine.rename("/etc/pve/firewall/cluster.fw", to: "/etc/pve/firewall/moved.fw")
        try await machine.remove("/etc/pve/firewall/moved.fw")
        try await machine.remove("/etc/pve/firewall/moved.fw")
        #expect(try await machine.read("/etc/pve/firewall/moved.fw") == nil)
    }

    /// Certificates install and verify in parallel: one task's user or group lookup must not see
    /// another's. With the static-buffer `getgrgid`, a key's group once read back as root while
    /// another certificate's root-owned key was being checked.
    @Test(
        "ownership set and read back from many tasks at once: each file has its own group, by name",
        .enabled(if: getuid() == 0, "chown to another user needs root"))
    func parallelOwnership() async throws {
        let directory = try TemporaryDirectory("phoenix-ownership")
        let machine = LocalMachine(name: "the host", root: directory.path)
        let groups = ["www-data", "root", "nogroup", "daemon"]
        let asked = (0..<2000).map { ("/keys/\($0).key", groups[$0 % groups.count]) }
        for (path, _) in asked { try await machine.write(path, "key", mode: "0600") }
        try await withThrowingTaskGroup { group in
            for (path, name) in asked {
                group.addTask { try await machine.setOwnership(path, owner: "root", group: name, mode: "640") }
            }
            try await group.waitForAll()
        }
        let seen = try await withThrowingTaskGroup(of: (String, FileFacts?).self) { group in
            for (path, _) in asked {
                group.addTask { (path, try await machine.inspect(all: [path])[path] ?? nil) }
            }
            return try await group.reduce(into: [String: FileFacts?]()) { $0[$1.0] = $1.1 }
        }
        #expect(seen.count == asked.count)
        var wrong: [String] = []
        for (path, name) in asked {
            let fact = try #require(seen[path] ?? nil, "\(path) was written")
            if fact.group != name || fact.owner != "root" || fact.mode != "0640" {
                wrong.append("\(path): \(fact.owner):\(fact.group) \(fact.mode), asked root:\(name) 0640")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, first: \(wrong.prefix(3))")
    }
}

@Suite("Probes and failpoints")
struct ProbeTests {
    @Test("DNS replies are parsed, compressed names included")
    func dnsMessage() {
        let query = DNSMessage.query(id: 0x1234, name: "a.lab")
        #expect(query.prefix(2) == [0x12, 0x34])
        // The query echoed as a reply with one compressed A answer: 10.0.0.7.
        var reply = query
        reply[2] = 0x81
        reply[3] = 0x80
        reply[7] = 1
        reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 7]
        let parsed = DNSMessage.parse(reply)
        #expect(parsed?.id == 0x1234)
        #expect(parsed?.addresses == [IPv4Address("10.0.0.7")!])
        #expect(DNSMessage.parse(Array(reply.prefix(20))) == nil, "a truncated reply is refused")
    }

    @Test("failpoints name a resource, a phase and an action; ids may contain colons")
    func failpoints() async throws {
        let points = Failpoints("dns:records:after:error,gateway:site:before:crash,nonsense")
        #expect(throws: UnitFailure.self) { try points.hit("dns:records", .after) }
        try points.hit("dns:records", .before)
        try Failpoints.none.hit("gateway:site", .before)
    }

    @Test("a hold failpoint waits while its file exists, and only for the resource and phase it names")
    func holdFailpoint() async throws {
        let directory = try TemporaryDirectory("phoenix-hold")
        let points = Failpoints("files:web/docker-compose.yml:before:hold", holdFile: directory.file("hold"))
        #expect(points.check("files:web/docker-compose.yml", .before) == nil, "a hold stops nothing")
        await points.hold(["files:web/docker-compose.yml"], .before)  // no file: at once
        try directory.write("hold", "")
        await points.hold(["files:other"], .before)  // another resource: at once
        await points.hold(["files:web/docker-compose.yml"], .after)  // another phase: at once
        // An operator lets the run go a while later: the hold returns only after the file is gone.
        let released = Task { () throws -> ContinuousClock.Instant in
            try await Task.sleep(for: .milliseconds(300))
            let removed = ContinuousClock.now
            try FileManager.default.removeItem(atPath: directory.file("hold"))
            return removed
        }
        await points.hold(["files:web/docker-compose.yml"], .before)
        let returned = ContinuousClock.now
        #expect(try await released.value <= returned, "held until the file went")
    }

    @Test("a TCP probe tells an open port from a closed one")
    func tcp() async throws {
        let port = FreePort.allocate()
        #expect(!Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 1))
        let python = try #require(TestPaths.program("python3"))
        let directory = try TemporaryDirectory("phoenix-probe")
        let server = try RunningProcess(
            python, ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory.path], logFile: directory.file("log"))
        defer { server.stop() }
        #expect(waitUntil { Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 1) })
        try directory.write("api", "[{\"name\": \"r@file\"}]")
        #expect(Probe.httpGet(host: IPv4Address("127.0.0.1")!, port: port, path: "/api", timeout: 2) == "[{\"name\": \"r@file\"}]")
        #expect(Probe.httpGet(host: IPv4Address("127.0.0.1")!, port: port, path: "/missing", timeout: 2) == nil)
    }
}
