import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

/// The reporter against a scripted transport standing in for the provider's API (none runs here).
@Suite("Commit status reporter")
struct CommitStatusReporterTests {
    static let sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
    static let api = try! CommitStatusAPI("https://git.example.com/api/v1/repos/ops/lab")

    static func reporter(
        _ transport: ScriptedHTTPTransport, log: LogLines, token: String = "tok", delays: [Duration] = [.zero, .zero, .zero]
    )
        -> CommitStatusReporter
    {
        CommitStatusReporter(api: api, transport: transport, context: "phoenix/lab", token: { token }, retryDelays: delays, warn: log.closure)
    }

    static func states(_ transport: ScriptedHTTPTransport) throws -> [String] {
        try transport.requests.map { try JSONParser.parse($0.body ?? []).value["state"]?.stringValue ?? "?" }
    }

    @Test("pending once when the plan starts, the final state once when the run ends, however often told")
    func once() async throws {
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 201) }
        let log = LogLines()
        let reporter = Self.reporter(transport, log: log)
        #expect(await reporter.report(commit: Self.sha, state: .pending, description: "planning"))
        for _ in 0..<10 {
            await reporter.report(commit: Self.sha, state: .pending, description: "planning")
            await reporter.report(commit: Self.sha, state: .failure, description: "web failed")
        }
        #expect(try Self.states(transport) == ["pending", "failure"])
        #expect(!(await reporter.report(commit: Self.sha.uppercased(), state: .failure, description: "again")))
        #expect(await reporter.report(commit: Self.sha, state: .success, description: "fixed by a re-run"))
        #expect(!(await reporter.report(commit: Self.sha, state: .pending, description: "no pending after a result")))
        #expect(try Self.states(transport) == ["pending", "failure", "success"])
        #expect(log.all.isEmpty)
    }

    @Test("an invalid commit gets its failure without a pending first")
    func finalOnly() async throws {
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 201) }
        let reporter = Self.reporter(transport, log: LogLines())
        #expect(await reporter.report(commit: Self.sha, state: .failure, description: "invalid commit"))
        #expect(try Self.states(transport) == ["failure"])
    }

    @Test("a 5xx, a 429 or no answer is retried; the post that follows succeeds without a warning")
    func retried() async throws {
        let transport = ScriptedHTTPTransport { (_, n) throws(HTTPTransportError) -> HTTPResponseMessage in
            switch n {
            case 0: return HTTPResponseMessage(status: 502)
            case 1: throw .unreachable("connection refused")
            case 2: return HTTPResponseMessage(status: 429)
            default: return HTTPResponseMessage(status: 201)
            }
        }
        let log = LogLines()
        #expect(await Self.reporter(transport, log: log).report(commit: Self.sha, state: .success, description: "ok"))
        #expect(transport.requests.count == 4)
        #expect(log.all.isEmpty)
    }

    @Test("a server that keeps failing: a few attempts, one warning, and the run goes on")
    func givesUp() async throws {
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 503, body: Array("maintenance".utf8)) }
        let log = LogLines()
        let reporter = Self.reporter(transport, log: log)
        #expect(!(await reporter.report(commit: Self.sha, state: .pending, description: "planning")))
        #expect(transport.requests.count == 4)
        #expect(log.all.count == 1)
        #expect(log.all.first?.contains("HTTP 503: maintenance") == true)
        #expect(log.all.first?.contains("gitea (git.example.com)") == true)
        // Not taken, so the same state may be told again.
        #expect(!(await reporter.report(commit: Self.sha, state: .pending, description: "planning")))
        #expect(transport.requests.count == 8)
    }

    @Test("a 4xx is not retried")
    func clientError() async {
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 401, body: Array(#"{"message":"Bad credentials"}"#.utf8)) }
        let log = LogLines()
        #expect(!(await Self.reporter(transport, log: log).report(commit: Self.sha, state: .success, description: "ok")))
        #expect(transport.requests.count == 1)
        #expect(log.all.first?.contains("HTTP 401") == true)
    }

    @Test("the final state is posted after pending, never overtaken by a late retry of pending")
    func ordered() async throws {
        let transport = ScriptedHTTPTransport { _, n in HTTPResponseMessage(status: n == 0 ? 500 : 201) }
        let reporter = Self.reporter(transport, log: LogLines(), delays: [.seconds(1)])
        async let pending = reporter.report(commit: Self.sha, state: .pending, description: "planning")
        // Wait for pending's first attempt (which fails), then report the end while it waits to retry.
        for _ in 0..<500 where transport.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await reporter.report(commit: Self.sha, state: .success, description: "done"))
        #expect(!(await pending))
        #expect(try Self.states(transport) == ["pending", "success"])
    }

    @Test("the token file is read at each report, so a rotated token is used; an unreadable one is a warning")
    func tokenFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("status-token").path
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 201) }
        let log = LogLines()
        let reporter = CommitStatusReporter(
            api: Self.api, transport: transport, context: "phoenix/lab", token: CommitStatusReporter.tokenFile(path), retryDelays: [], warn: log.closure)
        #expect(!(await reporter.report(commit: Self.sha, state: .pending, description: "planning")))
        #expect(transport.requests.isEmpty)
        #expect(log.all == ["commit status pending for 9fceb02d0ae5 on gitea (git.example.com) not posted: cannot read the secret file \(path): no such file"])
        try Data("first\n".utf8).write(to: URL(fileURLWithPath: path))
        await reporter.report(commit: Self.sha, state: .pending, description: "planning")
        try Data("second\n".utf8).write(to: URL(fileURLWithPath: path))
        await reporter.report(commit: Self.sha, state: .success, description: "done")
        #expect(transport.requests.map { $0.header("Authorization") } == ["token first", "token second"])
    }
}
