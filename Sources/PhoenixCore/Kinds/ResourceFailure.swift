/// Why one resource did not converge, as a value: the CLI, the agent's API and the dashboard render
/// it, scripts read its `category`, and `responsibility` says whose move it is.
public enum ResourceFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not attempted: a resource it needs (`dependency`) did not converge, for `reason`.
    case blocked(dependency: String, reason: String)
    /// A system said no, or could not be reached: which system, the call, and the adapter's message
    /// (which names the call itself: `PUT /nodes/pve/qemu/101/config: Proxmox refused …`).
    case refused(system: String, call: String, message: String)
    /// The change went through but the check after it did not hold: which check, and what it saw
    /// (`memory did not take`, `memory is 2048, not 4096`).
    case verificationFailed(check: String, seen: String)
    /// Something did not finish in time.
    case timedOut(operation: String, seconds: Double)
    /// Its current state cannot be read, so nothing can be decided about it.
    case cannotCheck(reason: String)
    /// The configuration asks for something that cannot be done as written.
    case invalid(reason: String)
    /// An injected failure (`PHOENIX_FAILPOINT=…:error`).
    case injected(failpoint: String)
    /// Not started: the run was asked to stop before this resource's turn (a newer commit, a
    /// shutdown). Nothing of it changed; the next run takes it up.
    case stopped(reason: String)
    /// Not converged here yet, and not a failure: what it needs to be looked at is not there (the
    /// Step-CA root before the CA guest exports it). Said as not applied; what needs it waits.
    case notApplied(reason: String)
    /// Phoenix itself went wrong: a bug to report, not the operator's to fix.
    case bug(String)

    /// Whose move it is.
    public enum Responsibility: String, Sendable, Codable {
        /// The operator's: the configuration, a system's state, the network.
        case `operator`
        /// Phoenix's: report it.
        case bug
    }

    public var responsibility: Responsibility {
        if case .bug = self { return .bug }
        return .operator
    }

    /// A stable word for scripts (`blocked`, `refused`, `verification failed`, …).
    public var category: String {
        switch self {
        case .blocked: return "blocked"
        case .refused: return "refused"
        case .verificationFailed: return "verification failed"
        case .timedOut: return "timed out"
        case .cannotCheck: return "cannot check"
        case .invalid: return "invalid"
        case .injected: return "injected"
        case .stopped: return "stopped"
        case .notApplied: return "not applied"
        case .bug: return "bug"
        }
    }

    /// The failure in the words of a resource's own line, where the line says the rest (`cannot
    /// converge: …`): a state that cannot be read is its reason alone; anything else its description.
    public var words: String {
        if case let .cannotCheck(reason) = self { return reason }
        return description
    }

    public var description: String {
        switch self {
        case let .blocked(dependency, reason): return "not attempted: \(dependency) did not converge (\(reason))"
        case let .refused(_, _, message): return message
        case let .verificationFailed(check, seen): return [check, seen].filter { !$0.isEmpty }.joined(separator: ": ")
        case let .timedOut(operation, seconds): return "\(operation) did not finish within \(Int(seconds.rounded())) s"
        case let .cannotCheck(reason): return "cannot check: \(reason)"
        case let .invalid(reason): return reason
        case let .injected(failpoint): return "failpoint \(failpoint): injected failure"
        case let .stopped(reason): return "not started: the run \(reason)"
        case let .notApplied(reason): return "not applied: \(reason)"
        case let .bug(text): return "phoenix went wrong (a bug, please report it): \(text)"
        }
    }
}

/// What became of the previous state after a change failed.
public enum RestoreOutcome: Sendable, Equatable, CustomStringConvertible {
    /// Nothing had changed yet: there was nothing to put back.
    case nothingChanged
    /// The previous state is back; the words say what ("the previous rules are back").
    case restored(String)
    /// Putting it back failed too: what was attempted, and why it failed.
    case failed(attempt: String, reason: String)
    /// The change stays as made: the words say why (a first deploy has nothing to go back to).
    case kept(String)

    public var description: String {
        switch self {
        case .nothingChanged: return "nothing was changed"
        case let .restored(what): return what
        case let .failed(attempt, reason): return "\(attempt) failed too: \(reason)"
        case let .kept(why): return why
        }
    }

    /// The previous state is in place again (or was never left).
    public var isRestored: Bool {
        switch self {
        case .nothingChanged, .restored: return true
        case .failed, .kept: return false
        }
    }
}

/// A resource's failure with what became of its previous state.
public struct ResourceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var failure: ResourceFailure
    /// Nil when the failure came before anything was attempted (blocked, cannot check).
    public var restore: RestoreOutcome?

    public init(_ failure: ResourceFailure, restore: RestoreOutcome? = nil) {
        self.failure = failure
        self.restore = restore
    }

    public var description: String {
        guard let restore else { return failure.description }
        return "\(failure); \(restore)"
    }
}
