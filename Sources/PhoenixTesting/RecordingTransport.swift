import Foundation
import PhoenixCore
import PhoenixEngine

/// A command transport that records every argv (and its input) and answers as told: the seam of
/// the remote machines, for tests.
public final class RecordingTransport: @unchecked Sendable {
    private let lock = NSLock()
    public private(set) var calls: [(argv: [String], input: String?)] = []
    public var answer: ([String]) -> CommandResult = { _ in CommandResult(status: 0, stdout: "", stderr: "") }

    public init() {}

    public var transport: CommandTransport {
        { argv, input, _ in
            self.lock.withLock { self.calls.append((argv, input.map { String(decoding: $0, as: UTF8.self) })) }
            return self.answer(argv)
        }
    }
}
