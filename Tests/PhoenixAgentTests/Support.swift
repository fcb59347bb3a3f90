import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixServices
import Synchronization

/// Lines a logging closure received.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var closure: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
}

/// A clock a test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    var now: Date { current.withLock { $0 } }

    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }

    var closure: @Sendable () -> Date { { self.now } }
}

/// A fresh directory for files a test writes, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-agent-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A repository whose head never moves and that is never checked out: for tests that only queue runs.
struct PinnedHead: GitRemote {
    func head(branch: String) async throws(GitError) -> String { String(repeating: "a", count: 40) }
    func checkout(_ commit: String, branch: String) async throws(GitError) -> GitTree {
        throw GitError(operation: "checkout", reason: .failed, message: "not in these tests")
    }
    func verifySignatures(from: String?, to: String) async throws(GitError) {}
}

/// An agent over `store` that queues runs and performs none (its repository is `PinnedHead`, its
/// services lend nothing): what the API and the dashboard tests drive.
func queueOnlyAgent(store: any StateBackend) -> Agent {
    let services = AgentServices(
        load: { etc, stacks in EstateLoader().load(ConfigReader(configDirectory: etc, stacksDirectory: stacks).read()) },
        lease: { _, _, _ in throw GitError(operation: "lease", reason: .failed, message: "not in these tests") })
    let runner = CommitRunner(settings: .init(branch: "main"), git: PinnedHead(), store: store, services: services)
    return Agent(settings: .init(estateName: "lab"), runner: runner, store: store)
}
