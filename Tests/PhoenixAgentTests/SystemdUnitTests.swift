import Foundation
import PhoenixTesting
import Testing

/// contrib/systemd/phoenix-agent.service: hardened, secrets only through LoadCredential, and a unit
/// systemd itself accepts (`systemd-analyze verify`, with the built phoenix standing in for the
/// installed one).
@Suite("The agent's systemd unit")
struct SystemdUnitTests {
    static let path = "\(TestPaths.packageRoot)/contrib/systemd/phoenix-agent.service"

    @Test("hardened: no new privileges, a read-only system but the state directory, a private /tmp; secrets come as credentials")
    func hardened() throws {
        let unit = try String(contentsOfFile: Self.path, encoding: .utf8)
        let lines = Set(unit.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for directive in ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes", "ExecReload=/bin/kill -HUP $MAINPID"] {
            #expect(lines.contains(directive), "\(directive)")
        }
        #expect(lines.contains { $0.hasPrefix("ReadWritePaths=") && $0.contains("/var/lib/phoenix") })
        let credentials = lines.filter { $0.hasPrefix("LoadCredential=") }.map { $0.dropFirst("LoadCredential=".count).split(separator: ":")[0] }
        #expect(Set(credentials) == ["deploy-key", "webhook-secret", "tokens"])
        for name in credentials { #expect(unit.contains("${CREDENTIALS_DIRECTORY}/\(name)"), "\(name) is read from the credentials directory") }
        #expect(!unit.contains("Environment="), "no secret in the environment")
    }

    @Test(
        "systemd-analyze verify accepts it", .enabled(if: TestPaths.program("systemd-analyze") != nil, "systemd-analyze is not installed"))
    func verifies() throws {
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        let directory = try TemporaryDirectory("phoenix-unit")
        let unit = try String(contentsOfFile: Self.path, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/phoenix", with: binary)
        try directory.write("phoenix-agent.service", unit)
        let result = try Command.run(try #require(TestPaths.program("systemd-analyze")), ["verify", directory.file("phoenix-agent.service")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}
