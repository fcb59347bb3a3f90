import Synchronization

/// Asks a run to stop at the next boundary between resources: what has started finishes (its
/// verification and restore included), nothing new starts. The agent stops a run this way when a
/// newer commit arrives or when it is told to shut down; the journal resumes what did not start.
public final class RunControl: Sendable {
    /// Why a run stopped early.
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// A newer commit came: the next run plans again.
        case superseded(by: String)
        /// The process was asked to stop (SIGTERM).
        case shutdown

        public var description: String {
            switch self {
            case let .superseded(commit): return "stopped for the newer commit \(commit)"
            case .shutdown: return "stopped: phoenix was asked to shut down"
            }
        }
    }

    private let reason = Mutex<Reason?>(nil)

    public init() {}

    /// Asks the run to stop; the first reason given stands.
    public func stop(_ why: Reason) { reason.withLock { if $0 == nil { $0 = why } } }

    /// Why the run was asked to stop, or nil while it goes on.
    public var stopReason: Reason? { reason.withLock { $0 } }
}
