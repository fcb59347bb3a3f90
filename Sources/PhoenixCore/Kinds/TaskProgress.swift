/// Progress lines to whichever sink the running task set: a long-running caller (the agent)
/// collects each run's lines (`TaskProgress.$sink.withValue(…) { … }`) from adapters it built once
/// (`TaskLocalProgress`, the engine's and the sync service's reporter there). Child tasks inherit
/// the sink; outside one, the lines go nowhere.
public enum TaskProgress {
    @TaskLocal public static var sink: (@Sendable (String) -> Void)?

    /// Says `line` to the current task's sink, if any.
    public static func report(_ line: String) { sink?(line) }
}
