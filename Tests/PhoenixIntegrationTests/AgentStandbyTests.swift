import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

/// Two `phoenix agent` processes on one PostgreSQL state store (PhoenixTesting's `PostgresServer`),
/// as on two hosts: their own ports and work directories, the same repository (git daemon) and the
/// same folders standing in for the Proxmox host.
@Suite("phoenix agent: active and standby on one PostgreSQL store", .needs(.git, .gitDaemon, .rsync, .curl, .postgres), .serialized)
struct AgentStandbyTests {
    static func health(_ lab: AgentProcessTests.Lab, port: Int) -> [String: Any] {
        let answer = try? lab.request("GET", "/healthz", port: port)
        return (answer.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) } as? [String: Any]) ?? [:]
    }

    /// The dashboard's overview, signed in with the read token (a session cookie, as a browser).
    static func dashboard(port: Int, directory: TemporaryDirectory) throws -> String {
        let curl = try #require(TestPaths.program("curl"))
        let jar = directory.file("cookies-\(port)")
        let login = try Command.run(
            curl,
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-c", jar, "--data-urlencode", "token=\(AgentProcessTests.readToken)",
                "http://127.0.0.1:\(port)/login",
            ])
        #expect(["200", "303"].contains(login.stdout), "signing in works on a standby too: \(login.stdout)")
        return try Command.run(curl, ["-s", "-b", jar, "http://127.0.0.1:\(port)/"]).stdout
    }

    @Test("the standby serves reads and refuses work naming the active agent; the active one killed mid-apply, it takes over and finishes the run")
    func takeOver() async throws {
        let server = try PostgresServer()
        let secrets = try TemporaryDirectory("phoenix-standby")
        try secrets.write("pg.pass", server.password + "\n")
        chmod(secrets.file("pg.pass"), 0o600)
        let hold = secrets.file("hold")
        try secrets.write("hold", "held\n")
        let state = ["--state", server.url(), "--state-password-file", secrets.file("pg.pass"), "--heartbeat", "1s"]
        // The first agent's run stays at the stack file's step (a hold failpoint) until it is killed.
        let lab = try AgentProcessTests.Lab(
            interval: "1s", environment: ["PHOENIX_FAILPOINT=files:whoami/docker-compose.yml:before:hold", "PHOENIX_FAILPOINT_HOLD=\(hold)"], state: state)
        defer { lab.process.stop() }
        let head = try lab.head()
        let held = await eventually(timeout: 60, interval: 0.2) {
            (try? server.psql("SELECT count(*) FROM phoenix.journal WHERE resource LIKE 'files:whoami/%' AND phase = 'intent'")) == "1"
        }
        try #require(held, "the first agent's run never reached its hold: \(lab.process.log.suffix(2000))")
        #expect(Self.health(lab, port: lab.port)["role"] as? String == "active")

        let port = FreePort.allocate()
        let standby = try lab.another(port: port)
        defer { standby.stop() }
        let waiting = await eventually(timeout: 30, interval: 0.2) {
            (Self.health(lab, port: port)["active_agent"] as? [String: Any])?["pid"] as? Int == Int(lab.process.pid)
        }
        #expect(waiting, "the second agent stands by, naming the first: \(Self.health(lab, port: port)) \(standby.log.suffix(1500))")
        #expect(Self.health(lab, port: port)["role"] as? String == "standby")
        // Reads are served; work is refused with where to send it.
        #expect(try lab.runs(port: port).contains { $0["commit"] as? String == head && $0["outcome"] as? String == "running" })
        let refused = try lab.webhook(delivery: "standby-1", port: port)
        #expect(refused.status == 503 && refused.body.contains("standby") && refused.body.contains("pid \(lab.process.pid)"), "\(refused)")
        #expect(!standby.log.contains("run 1 starts"), "the standby starts no run while the first agent is alive")
        let overview = try Self.dashboard(port: port, directory: secrets)
        #expect(overview.contains("data-role=\"standby\"") && overview.contains("the active agent is"), "the dashboard says so: \(overview.suffix(3000))")

        // The active agent dies: its sessions end, the standby takes the lease and finishes the run.
        lab.process.signal(SIGKILL)
        let active = await eventually(timeout: 30, interval: 0.1) { Self.health(lab, port: port)["role"] as? String == "active" }
        #expect(active, "the standby never took over: \(standby.log.suffix(2000))")
        var finished: [String: Any] = [:]
        let converged = await eventually(timeout: 60, interval: 0.2) {
            finished = ((try? lab.runs(port: port)) ?? []).first { $0["commit"] as? String == head && $0["outcome"] as? String == "succeeded" } ?? [:]
            return !finished.isEmpty
        }
        #expect(converged, "\(standby.log.suffix(2000))")
        let runs = try lab.runs(port: port)
        #expect(runs.contains { $0["commit"] as? String == head && $0["outcome"] as? String == "interrupted" }, "the killed run is interrupted: \(runs)")
        #expect(lab.mirrored?.contains("whoami") == true, "the stack file the killed run was about to write is in place")
        #expect(!standby.log.contains(server.password) && !lab.process.log.contains(server.password), "the password is in no agent's log")
    }
}
