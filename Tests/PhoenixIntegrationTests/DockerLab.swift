import Foundation
import PhoenixTesting
import Synchronization
import Testing

/// Real Docker daemons (Debian's docker.io, `dockerd` 20.10) for the Swarm tests, each in a network
/// namespace the lab makes, with its own data root, exec root, socket and host name — so the
/// bridges, nft tables and ip_forward dockerd sets up stay inside, and go with the namespace. With
/// two nodes a veth pair joins the namespaces (10.210.0.1 and .2), the recipe of
/// ../shared/reference/real-components.md §3; one node gets a dummy interface at 10.211.0.1 to
/// advertise (on one end of a veth pair kept inside). The image is busybox-static imported locally on every node: no registry traffic.
/// Stopped by pid; the namespaces and folders are removed.
final class DockerLab: Sendable {
    struct Node: Sendable {
        let name: String
        let namespace: String
        let address: String
        let folder: String
        /// How the daemon was started (nsenter … dockerd …), for a restart by lab-service.
        let argv: [String]
        let process: RunningProcess
        var socket: String { "\(folder)/docker.sock" }
        var endpoint: String { "unix://\(socket)" }
    }

    static let image = "lab/busybox:1"
    /// Images that play Portainer's server and agent in the tests (busybox sleeping): say so where used.
    static let standIns = ["lab/portainer:1", "lab/portainer-agent:1", "lab/portainer-agent:2"]
    let directory: TemporaryDirectory
    /// What the lab made so far, recorded as it goes: an init that fails half-way is cleaned up by
    /// `deinit` from here.
    private let made = Mutex<(nodes: [Node], namespaces: [String])>(([], []))
    var nodes: [Node] { made.withLock { $0.nodes } }
    private var namespaces: [String] { made.withLock { $0.namespaces } }
    let docker: String

    /// `tls`: the first node also listens on tcp://127.0.0.1:2376 inside its namespace, with these
    /// server files and client verification against `ca`.
    init(names: [String], tls: (ca: String, cert: String, key: String)? = nil) throws {
        directory = try TemporaryDirectory("phoenix-docker")
        docker = try #require(TestPaths.program("docker"), "the docker CLI")
        let dockerd = try #require(TestPaths.program("dockerd"), "dockerd (Debian's docker.io; scripts/test.sh installs it)")
        let ip = try #require(TestPaths.program("ip"))
        let nsenter = try #require(TestPaths.program("nsenter"))
        let unshare = try #require(TestPaths.program("unshare"))
        let tag = "pxd\(getpid() % 100_000)\(Self.counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        for index in names.indices {
            let namespace = "\(tag)n\(index + 1)"
            try Self.must(ip, ["netns", "add", namespace])
            made.withLock { $0.namespaces.append(namespace) }
            try Self.must(ip, ["-n", namespace, "link", "set", "lo", "up"])
        }
        let namespaces = self.namespaces
        var addresses: [String] = []
        if names.count == 1 {
            // This kernel has no dummy interfaces: a veth pair, both ends in the namespace.
            try Self.must(ip, ["-n", namespaces[0], "link", "add", "px0", "type", "veth", "peer", "name", "px1"])
            try Self.must(ip, ["-n", namespaces[0], "addr", "add", "10.211.0.1/24", "dev", "px0"])
            try Self.must(ip, ["-n", namespaces[0], "link", "set", "px0", "up"])
            try Self.must(ip, ["-n", namespaces[0], "link", "set", "px1", "up"])
            addresses = ["10.211.0.1"]
        } else {
            precondition(names.count == 2, "one or two nodes")
            try Self.must(ip, ["link", "add", "\(tag)a", "type", "veth", "peer", "name", "\(tag)b"])
            try Self.must(ip, ["link", "set", "\(tag)a", "netns", namespaces[0]])
            try Self.must(ip, ["link", "set", "\(tag)b", "netns", namespaces[1]])
            addresses = ["10.210.0.1", "10.210.0.2"]
            for (index, device) in ["\(tag)a", "\(tag)b"].enumerated() {
                try Self.must(ip, ["-n", namespaces[index], "addr", "add", "\(addresses[index])/24", "dev", device])
                try Self.must(ip, ["-n", namespaces[index], "link", "set", device, "up"])
            }
        }
        let rootfs = try Self.busyboxTar(in: directory)
        for (index, name) in names.enumerated() {
            let folder = directory.file("n\(index + 1)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var daemon = [
                dockerd, "--data-root", "\(folder)/data", "--exec-root", "\(folder)/exec", "--pidfile", "\(folder)/dockerd.pid",
                "-H", "unix://\(folder)/docker.sock", "--cgroup-parent", "/\(namespaces[index])",
            ]
            if index == 0, let tls {
                daemon += ["-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key]
            }
            // `ip netns exec` remounts /sys, which dockerd cannot live with: nsenter joins the
            // namespace only; unshare gives the daemon its own host name (the Swarm node's name).
            let argv = [nsenter, "--net=/run/netns/\(namespaces[index])", unshare, "--uts", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"", name] + daemon
            let process = try RunningProcess(argv[0], Array(argv.dropFirst()), logFile: "\(folder)/dockerd.log")
            let node = Node(name: name, namespace: namespaces[index], address: addresses[index], folder: folder, argv: argv, process: process)
            made.withLock { $0.nodes.append(node) }
        }
        for node in nodes {
            let ready = waitUntil(timeout: 30) { (try? Command.run(docker, ["-H", node.endpoint, "version"], timeout: 5))?.status == 0 }
            try #require(ready, "dockerd \(node.name) did not start: \(node.process.log.suffix(1500))")
            let load = try Command.run(
                "/bin/sh",
                [
                    "-c", "exec \"$0\" -H \"$1\" import --change 'CMD [\"/bin/sh\"]' --change 'ENV PATH=/bin' \"$2\" \"$3\"", docker, node.endpoint, rootfs,
                    Self.image,
                ])
            try #require(load.status == 0, "docker import: \(load.stderr)")
            // Stand-ins for Portainer's server and agent images (no registry here): busybox that sleeps.
            for tag in Self.standIns {
                let standIn = try Command.run(
                    "/bin/sh",
                    [
                        "-c", "exec \"$0\" -H \"$1\" import --change 'CMD [\"sleep\", \"100000\"]' --change 'ENV PATH=/bin' \"$2\" \"$3\"", docker,
                        node.endpoint, rootfs, tag,
                    ])
                try #require(standIn.status == 0, "docker import: \(standIn.stderr)")
            }
        }
    }

    private static let counter = Atomic<Int>(0)

    /// busybox-static as a root file system tarball (sh, sleep, true, false, nc, cat …).
    static func busyboxTar(in directory: TemporaryDirectory) throws -> String {
        let busybox = try #require(["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }, "busybox-static")
        let root = directory.file("rootfs")
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: busybox, toPath: root + "/bin/busybox")
        for applet in ["sh", "sleep", "true", "false", "cat", "echo", "nc", "ls", "env", "test", "hostname"] {
            try FileManager.default.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
        }
        let tar = directory.file("rootfs.tar")
        try Self.must(try #require(TestPaths.program("tar")), ["-C", root, "-cf", tar, "."])
        return tar
    }

    @discardableResult
    static func must(_ program: String, _ arguments: [String]) throws -> CommandResult {
        let result = try Command.run(program, arguments, timeout: 60)
        try #require(result.status == 0, "\(program) \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }

    /// The docker CLI against node `index`.
    @discardableResult
    func docker(_ index: Int, _ arguments: [String]) throws -> CommandResult {
        try Command.run(docker, ["-H", nodes[index].endpoint] + arguments, timeout: 60)
    }

    /// An Engine API GET on node `index`, parsed (curl over the socket).
    func api(_ index: Int, _ path: String) throws -> Any {
        let curl = try #require(TestPaths.program("curl"))
        let result = try Command.run(curl, ["-sf", "--unix-socket", nodes[index].socket, "http://docker/v1.41\(path)"])
        try #require(result.status == 0, "GET \(path): \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// What `/run/secrets/<target>` holds in each running container of Swarm service `service` on
    /// node `index`, read inside the container (`docker exec … cat`): the values read, and the
    /// containers that could not be read (one that stops between the listing and the read).
    func secretInTasks(_ index: Int, service: String, target: String) throws -> (values: [String], unread: [String]) {
        let listed = try docker(index, ["ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(service)", "--filter", "status=running"])
        try #require(listed.status == 0, "docker ps: \(listed.stderr)")
        var values: [String] = []
        var unread: [String] = []
        for id in listed.stdout.split(separator: "\n").map(String.init) {
            let read = try docker(index, ["exec", id, "cat", "/run/secrets/\(target)"])
            if read.status == 0 { values.append(read.stdout) } else { unread.append("\(id): \(read.stderr)") }
        }
        return (values, unread)
    }

    /// Waits until every running container of `service` holds `expected` at /run/secrets/`target`
    /// (a service update replaces its tasks one after the other).
    func waitForSecret(_ index: Int, service: String, target: String, _ expected: String, what: String, timeout: TimeInterval = 60) throws {
        var seen: (values: [String], unread: [String]) = ([], [])
        try waitFor(
            what, timeout: timeout, interval: 0.5,
            detail: { "\(seen.values.count) read (\(seen.values.filter { $0 == expected }.count) as expected), unread \(seen.unread)" }
        ) {
            seen = try secretInTasks(index, service: service, target: target)
            return !seen.values.isEmpty && seen.unread.isEmpty && seen.values.allSatisfy { $0 == expected }
        }
    }

    /// A folder in which Examples/lab/bin/lab-service (the tests' stand-in for systemctl) knows node
    /// `index`'s daemon as `dockerd`: its argv in dockerd.cmd, its pid in dockerd.pid. `lab-service
    /// FOLDER dockerd restart` stops it by that pid and starts it again on the same data root.
    func serviceFolder(_ index: Int) throws -> String {
        let node = nodes[index]
        let run = "\(node.folder)/service"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try (node.argv.joined(separator: "\n") + "\n").write(toFile: "\(run)/dockerd.cmd", atomically: true, encoding: .utf8)
        if !FileManager.default.fileExists(atPath: "\(run)/dockerd.pid") {
            try "\(node.process.pid)\n".write(toFile: "\(run)/dockerd.pid", atomically: true, encoding: .utf8)
        }
        return run
    }

    /// Runs `argv` inside node `index`'s network namespace (phoenix reaching a TCP daemon there).
    func inNamespace(_ index: Int, _ argv: [String], timeout: TimeInterval = 180) throws -> CommandResult {
        let nsenter = try #require(TestPaths.program("nsenter"))
        return try Command.run(nsenter, ["--net=/run/netns/\(nodes[index].namespace)"] + argv, timeout: timeout)
    }

    deinit {
        for node in nodes {
            node.process.signal(SIGTERM)
        }
        for node in nodes {
            // dockerd stops its containers and containerd first: give it the time it takes.
            if !waitUntil(timeout: 30, { !node.process.isRunning }) { node.process.stop() }
            // A daemon a test restarted through lab-service runs under another pid: stopped the same way.
            let restarted = (try? String(contentsOfFile: "\(node.folder)/service/dockerd.pid", encoding: .utf8)).flatMap {
                pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if let pid = restarted, pid != node.process.pid, kill(pid, SIGTERM) == 0 {
                // Gone, or a zombie (no command line) its parent has not reaped.
                _ = waitUntil(timeout: 30, interval: 0.2) { FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")?.isEmpty ?? true }
            }
        }
        // Whatever still holds our folders (a shim after a hard stop) goes by its own pid.
        let mine = directory.path
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") {
            for entry in entries {
                guard let pid = Int32(entry), let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
                if String(decoding: raw, as: UTF8.self).contains(mine) { kill(pid, SIGKILL) }
            }
        }
        if let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) {
            let points = mounts.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }.filter { $0.hasPrefix(mine) }
            if let umount = TestPaths.program("umount") {
                for point in points.reversed() { _ = try? Command.run(umount, ["-l", point]) }
            }
        }
        if let ip = TestPaths.program("ip") {
            for namespace in namespaces { _ = try? Command.run(ip, ["netns", "del", namespace]) }
        }
        // The daemons' cgroup parents (cgroup v1: one per controller), empty now.
        for controller in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
            for namespace in namespaces { rmdir("/sys/fs/cgroup/\(controller)/\(namespace)") }
        }
    }
}
