import PhoenixCore

/// Where progress goes while a sync runs (stderr in the CLI).
public protocol ProgressReporter: Sendable {
    func report(_ line: String)
}

public struct SilentProgress: ProgressReporter {
    public init() {}
    public func report(_ line: String) {}
}

/// Progress to the run collecting it (`TaskProgress`): the agent's runs keep their lines.
public struct TaskLocalProgress: ProgressReporter {
    public init() {}
    public func report(_ line: String) { TaskProgress.report(line) }
}
