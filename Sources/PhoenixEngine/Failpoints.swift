import Foundation

/// Failure injection for tests: `PHOENIX_FAILPOINT=<resource>:<phase>:<action>` (several separated by
/// commas), where phase is `before` (staged and tested, nothing live changed yet) or `after` (the new
/// file is live, its service not yet reloaded or verified), and action is `crash` (the process dies
/// on the spot, as with a kill or a power cut), `error` (the step fails) or `hold` (the step waits
/// there while the file `PHOENIX_FAILPOINT_HOLD` names exists, at most ten minutes: a test holds a
/// run mid-apply for as long as it needs). Honoured only when set.
public struct Failpoints: Sendable {
    /// `installed`: the certs stage's point between its two passes (files in place, not reloaded).
    public enum Phase: String, Sendable { case before, installed, after }
    public enum Action: String, Sendable { case crash, error, hold }

    let points: [String: Action]
    /// While this file exists, a step at a `hold` failpoint waits.
    let holdFile: String?
    /// A crash stops the run where it is instead of the process (in-process tests of the executor):
    /// `check` answers `.crash` and the executor abandons the run unfinished, as a dead process would.
    public var crashInProcess = false

    public init(_ specification: String?, holdFile: String? = nil) {
        self.holdFile = holdFile
        var points: [String: Action] = [:]
        for item in (specification ?? "").split(separator: ",") {
            let parts = item.split(separator: ":").map(String.init)
            // Resource ids contain ':' themselves (dns:records): phase and action are the last two parts.
            guard parts.count >= 3, let phase = Phase(rawValue: parts[parts.count - 2]), let action = Action(rawValue: parts[parts.count - 1]) else {
                continue
            }
            points[parts.dropLast(2).joined(separator: ":") + "@" + phase.rawValue] = action
        }
        self.points = points
    }

    public static let none = Failpoints(nil)

    public static func fromEnvironment() -> Failpoints {
        let environment = ProcessInfo.processInfo.environment
        return Failpoints(environment["PHOENIX_FAILPOINT"], holdFile: environment["PHOENIX_FAILPOINT_HOLD"])
    }

    /// Waits while a `hold` failpoint names one of `resources` at `phase` and the hold file exists.
    public func hold(_ resources: [String], _ phase: Phase) async {
        guard let holdFile, resources.contains(where: { points["\($0)@\(phase.rawValue)"] == .hold }) else { return }
        let deadline = ContinuousClock.now + .seconds(600)
        while FileManager.default.fileExists(atPath: holdFile), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// What a failpoint asks of the step at this point.
    public enum Stop: Sendable, Equatable {
        /// Fail the step with this failpoint's name (`guest:101 before`).
        case error(String)
        /// Stop the run here, unfinished (only with `crashInProcess`: otherwise the process is gone).
        case crash
    }

    /// Whether a failpoint names this resource and phase: nil to go on. A crash ends the process
    /// here unless `crashInProcess`.
    public func check(_ resource: String, _ phase: Phase) -> Stop? {
        switch points["\(resource)@\(phase.rawValue)"] {
        case .crash?:
            if crashInProcess { return .crash }
            FileHandle.standardError.write(Data("phoenix: failpoint \(resource) \(phase.rawValue): crashing\n".utf8))
            _exit(86)
        case .error?:
            return .error("\(resource) \(phase.rawValue)")
        case .hold?, nil:
            return nil
        }
    }

    /// Crashes or fails here when a failpoint names this resource and phase.
    public func hit(_ resource: String, _ phase: Phase) throws(UnitFailure) {
        switch points["\(resource)@\(phase.rawValue)"] {
        case .crash?:
            FileHandle.standardError.write(Data("phoenix: failpoint \(resource) \(phase.rawValue): crashing\n".utf8))
            _exit(86)
        case .error?:
            throw UnitFailure(check: "failpoint \(resource) \(phase.rawValue)", output: "injected failure")
        case .hold?, nil:
            return
        }
    }
}
