import Foundation
import PhoenixCore
import PhoenixEngine
import Synchronization

/// A command transport that records every argv (and its input) and answers as told: the seam of
/// the remote machines, for tests.
public final class RecordingTransport: Sendable {
    public typealias Answer = @Sendable ([String]) -> CommandResult

    private let state = Mutex<(calls: [(argv: [String], input: String?)], answer: Answer)>(
        ([], { _ in CommandResult(status: 0, stdout: "", stderr: "") }))

    public init() {}

    /// Every call so far, in order.
    public var calls: [(argv: [String], input: String?)] { state.withLock { $0.calls } }

    /// What the remote side answers to an argv (called outside the lock: it may look at `calls`).
    public var answer: Answer {
        get { state.withLock { $0.answer } }
        set { state.withLock { $0.answer = newValue } }
    }

    public var transport: CommandTransport {
        { argv, input, _ in
            let answer = self.state.withLock {
                $0.calls.append((argv, input.map { String(decoding: $0, as: UTF8.self) }))
                return $0.answer
            }
            return answer(argv)
        }
    }
}
