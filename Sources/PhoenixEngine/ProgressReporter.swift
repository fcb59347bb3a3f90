/// Where progress goes while a sync runs (stderr in the CLI).
public protocol ProgressReporter: Sendable {
    func report(_ line: String)
}

public struct SilentProgress: ProgressReporter {
    public init() {}
    public func report(_ line: String) {}
}
