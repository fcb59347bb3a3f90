import Synchronization

/// Progress lines of the run the agent performs: adapters built once with the agent's quiet
/// reporter (`TaskLocalProgress`) say their lines here, and `collect` hands them to the running
/// run's sink; with no run collecting, they go nowhere. One run at a time collects (the agent's
/// queue runs one); a drift or certificate check that says something meanwhile lands in that run's
/// log. (A task-local sink was the first design: Swift 6.3.1's release build crashed in
/// `TaskLocal.withValue` there.)
public enum TaskProgress {
    private static let current = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// Says `line` to the collecting run, if any.
    public static func report(_ line: String) {
        let sink = current.withLock { $0 }
        sink?(line)
    }

    /// From now on, lines go to `sink` (nil: nowhere).
    public static func collect(_ sink: (@Sendable (String) -> Void)?) {
        current.withLock { $0 = sink }
    }
}
