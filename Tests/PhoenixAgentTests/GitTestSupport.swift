import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Synchronization
import Testing

extension Trait where Self == ConditionTrait {
    /// Skips the test or suite, with the reason, when one of `components` is missing; under the
    /// README's test command (PHOENIX_REQUIRE_REAL_COMPONENTS=1) it runs and fails on it instead.
    static func needs(_ components: Component...) -> Self {
        .enabled(if: Components.available(components), Comment(rawValue: Components.reason(components)))
    }
}

/// The phoenix executable the test suite built: git's askpass and ssh helper.
let phoenixExecutable = "\(TestPaths.packageRoot)/.build/debug/phoenix"

/// Every git call an adapter made, in order.
final class InvocationLog: Sendable {
    private let calls = Mutex<[GitInvocation]>([])

    var observer: @Sendable (GitInvocation) -> Void { { call in self.calls.withLock { $0.append(call) } } }

    var all: [GitInvocation] { calls.withLock { $0 } }

    /// git's subcommands, in order (the first argument that is neither an option nor a `-c` value).
    var subcommands: [String] {
        all.map { call in
            var arguments = call.arguments[...]
            while let first = arguments.first, first.hasPrefix("-") { arguments = arguments.dropFirst(first == "-c" ? 2 : 1) }
            return arguments.first ?? ""
        }
    }

    func clear() { calls.withLock { $0.removeAll() } }
}

/// A work directory and an adapter over `url` in it.
func makeGit(
    _ url: String, work: TemporaryDirectory, credentials: GitCredentials = .none, signatures: SignatureCheck? = nil, keepTrees: Int = 3,
    log: InvocationLog? = nil
) throws -> SystemGit {
    try SystemGit(
        url: url, workDirectory: work.file("agent"),
        options: .init(credentials: credentials, signatures: signatures, helper: phoenixExecutable, timeout: 60, keepTrees: keepTrees, observer: log?.observer))
}

/// Runs `body`, expecting it to throw a GitError, and returns that error (nil when it threw none;
/// another error is recorded as an issue).
func gitError(_ body: () async throws -> Void) async -> GitError? {
    do {
        try await body()
        return nil
    } catch let error as GitError {
        return error
    } catch {
        Issue.record("not a GitError: \(error)")
        return nil
    }
}

/// The entries of a directory, sorted, recursively (symbolic links not followed).
func listing(_ path: String) -> [String] {
    (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
}
