import Foundation
import PhoenixTesting
import Testing

/// The dashboard in a real browser: Debian's headless Chromium driven by Selenium
/// (Tests/Browser/dashboard.py, one phase a call) against `phoenix agent` as a process, on the
/// agent tests' lab (git daemon on loopback, the example estate's stack files mirrored with rsync
/// under a folder standing in for the Proxmox host) and its guests on fakepve, which stands in for
/// the Proxmox API (the `/guests` page and the overview's guests not running read it). The script asserts on the DOM's data-*
/// markers, checks every page it visits with axe-core and for the planted secrets, and leaves
/// screenshots in .build/test-artifacts/dashboard.
@Suite("The dashboard in Chromium (Selenium, axe-core)", .needs(.git, .gitDaemon, .rsync, .curl, .python3, .chromium, .fakepve), .serialized)
struct DashboardBrowserTests {
    static let maxAge = 10.0

    /// Runs one phase of the browser script; its failures are the test's.
    func browse(_ phase: String, _ lab: AgentProcessTests.Lab, extra: [String] = []) throws {
        let python = "\(TestPaths.packageRoot)/.venv-it/bin/python"
        let screenshots = "\(TestPaths.packageRoot)/.build/test-artifacts/dashboard"
        let arguments =
            [
                "\(TestPaths.packageRoot)/Tests/Browser/dashboard.py", phase, "--url", "http://127.0.0.1:\(lab.port)", "--read-token",
                AgentProcessTests.readToken, "--operate-token", AgentProcessTests.token, "--screenshots", screenshots, "--axe", TestPaths.axeScript,
                "--secret", AgentProcessTests.secret, "--secret", AgentProcessTests.readToken, "--secret", AgentProcessTests.token,
                "--secret", String(FakeProxmox.token.split(separator: "=").last ?? ""),
                "--max-age", String(Self.maxAge),
            ] + extra
        let result = try Command.run(python, arguments, timeout: 240)
        #expect(result.status == 0, "\(phase): \(result.stderr)\(result.stdout)\n\(lab.process.log.suffix(1500))")
    }

    @Test(
        "the lab in a browser: a hand edit shows drifted, read-only sees no button and its forged POST is 403, a sync turns converged live, an approval applies, an expired session signs in again; axe finds nothing serious"
    )
    func dashboard() async throws {
        // The example estate's guests, created on fakepve as declared (and left stopped).
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let created = try pve.phoenix(["create"])
        try #require(created.status == 0, "\(created.stdout)\(created.stderr)")
        // Each machine call takes 300 ms more, so that a run lasts long enough to be watched live.
        let lab = try AgentProcessTests.Lab(
            interval: "1s", extra: ["--drift-interval", "2s", "--session-max-age", "\(Int(Self.maxAge))s", "--stages", "files,guests"],
            environment: [
                "PHOENIX_TEST_LATENCY_MS=300", "PHOENIX_API=\(pve.api)", "PHOENIX_API_CA=\(pve.certificates.ca)", "PHOENIX_API_TOKEN_FILE=\(pve.tokenFile)",
            ])
        defer { lab.process.stop() }
        try? FileManager.default.removeItem(atPath: "\(TestPaths.packageRoot)/.build/test-artifacts/dashboard")
        let first = try lab.head()
        #expect(try await lab.finishedRun(at: first)["outcome"] as? String == "succeeded")

        // A hand edit of a file the agent installed: the next drift check finds it.
        let installed = lab.directory.file("host/tank/stacks/whoami/docker-compose.yml")
        try "services: {}\n# edited by hand\n".write(toFile: installed, atomically: true, encoding: .utf8)
        try browse("overview", lab)

        // Sync now, from the browser: the run's page follows it live; the hand edit is repaired.
        try browse("live", lab)
        #expect(lab.mirrored?.contains("edited by hand") == false, "the sync put the configured file back")

        // A change to a stage in phoenix.agent.approve waits for a person, who approves it in the browser.
        try AgentProcessTests.Lab.commitExample(
            lab.fixture, "whoami v2, approved by a person", whoami: "services:\n  whoami:\n    image: traefik/whoami:v1.10.4\n", approve: ["files"])
        let waiting = try await lab.finishedRun(at: try lab.head(), outcome: "waiting for approval")
        #expect(lab.mirrored?.contains("v1.10.4") == false, "nothing applied before the approval")
        try browse("approve", lab, extra: ["--run", String(try #require(waiting["id"] as? Int))])
        #expect(lab.mirrored?.contains("v1.10.4") == true, "the approved plan was applied")

        try browse("expired", lab)
    }
}
