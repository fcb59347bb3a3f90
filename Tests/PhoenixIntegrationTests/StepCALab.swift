import Foundation
import PhoenixTesting
import Testing

/// A real step-ca (0.19, built from Debian's Go sources by scripts/lib/stepca.sh) on a free
/// loopback port, with a CA the lab makes: an openssl root and intermediate, and a JWK provisioner
/// `phoenix` whose key is encrypted under `password.txt` by an independent JOSE implementation
/// (joserfc). Stopped by its pid.
final class StepCALab: Sendable {
    let directory: String
    let port: Int
    let process: Process
    var url: String { "https://127.0.0.1:\(port)" }
    var rootFile: String { "\(directory)/certs/root_ca.crt" }
    var passwordFile: String { "\(directory)/password.txt" }

    /// A started step-ca (the tests name `.stepCA` in their traits): one that cannot be built or
    /// does not answer fails the test. `wrapper` prefixes its command and the health check (nsenter
    /// into a DockerLab namespace, where phoenix runs in that test).
    static func start(in directory: String, wrapper: [String] = []) throws -> StepCALab {
        let script = "\(TestPaths.packageRoot)/scripts/lib/stepca.sh"
        let built = try Command.run("/bin/bash", [script, "build"], timeout: 300)
        try #require(built.status == 0, "step-ca could not be built (scripts/test.sh installs its sources): \(built.stderr)")
        let binary = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let port = FreePort.allocate()
        let made = try Command.run("/bin/bash", [script, "init", directory, String(port)], timeout: 120)
        try #require(made.status == 0, "stepca.sh init: \(made.stderr)")
        let argv = wrapper + [binary, "\(directory)/ca.json"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        _ = FileManager.default.createFile(atPath: "\(directory)/step-ca.log", contents: nil)
        let log = try #require(FileHandle(forWritingAtPath: "\(directory)/step-ca.log"))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let lab = StepCALab(directory: directory, port: port, process: process)
        let curl = try realProgram("curl")
        let health = wrapper + [curl, "-sf", "--cacert", lab.rootFile, "\(lab.url)/health"]
        let answered = try waitUntil(timeout: 20, interval: 0.1) { try Command.run(health[0], Array(health.dropFirst()), timeout: 5).status == 0 }
        if !answered { lab.stop() }
        try #require(answered, "step-ca did not answer /health: \((try? String(contentsOfFile: "\(directory)/step-ca.log", encoding: .utf8)) ?? "")")
        return lab
    }

    init(directory: String, port: Int, process: Process) {
        self.directory = directory
        self.port = port
        self.process = process
    }

    /// How many certificates step-ca signed or renewed, from its request log.
    func requests(_ path: String) -> Int {
        let log = (try? String(contentsOfFile: "\(directory)/step-ca.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("path=\(path) ") && $0.contains("status=201") }.count
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit { stop() }
}
