import Foundation

/// What made a run fail, as notifications compare failures: two failures with the same `key` are
/// the same failure, whatever commit they happened on.
public struct NotificationCause: Sendable, Hashable {
    public let key: String
    /// One line for people.
    public let summary: String

    public init(key: String, summary: String) {
        self.key = key
        self.summary = summary
    }

    /// Resources that failed, each with its failure category (order does not matter).
    public static func failedResources(_ failures: [(resource: String, category: String)]) -> NotificationCause {
        let sorted = failures.map { "\($0.resource) (\($0.category))" }.sorted()
        let shown = sorted.prefix(5).joined(separator: ", ") + (sorted.count > 5 ? " and \(sorted.count - 5) more" : "")
        return NotificationCause(key: "failed\n" + sorted.joined(separator: "\n"), summary: "failed: \(shown)")
    }

    /// A commit whose configuration is invalid, by its diagnostics (order does not matter).
    public static func invalidCommit(diagnostics: [String]) -> NotificationCause {
        let sorted = diagnostics.sorted()
        let more = sorted.count > 1 ? " (and \(sorted.count - 1) more)" : ""
        return NotificationCause(key: "invalid commit\n" + sorted.joined(separator: "\n"), summary: "invalid commit: \(sorted.first ?? "")\(more)")
    }
}

/// When a run's end deserves a notification, deduplicated by cause: the first failure at once, the
/// same cause again at most once per `repeatInterval`, a different cause at once, one recovery when a
/// run succeeds after failures, nothing for other successes. A notification that reached no target
/// (`notDelivered`) is owed: the next run's decision tells it. Pure: the caller passes the time.
public struct NotificationPolicy: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Tell of this failure; `repeated` when the same cause was told before.
        case failure(NotificationCause, repeated: Bool)
        /// The runs succeed again.
        case recovery
    }

    /// The shortest time between two notifications of the same cause.
    public var repeatInterval: TimeInterval
    /// The cause of the current failure and when it was last told (nil: never yet), nil while
    /// runs succeed.
    public private(set) var failing: (cause: NotificationCause, told: Date?)?
    /// A recovery was decided and reached no one: the next success tells it again.
    public private(set) var recoveryOwed = false

    public init(repeatInterval: TimeInterval = 3600) {
        self.repeatInterval = repeatInterval
    }

    /// The decision for a run that ended at `now`, failed with `failure` or succeeded (nil).
    public mutating func decide(failure: NotificationCause?, at now: Date) -> Decision? {
        guard let failure else {
            // A recovery from a failure nobody was told of is no news.
            let tell = failing?.told != nil || recoveryOwed
            failing = nil
            recoveryOwed = false
            return tell ? .recovery : nil
        }
        recoveryOwed = false
        guard let current = failing, current.cause.key == failure.key, let told = current.told else {
            failing = (failure, now)
            return .failure(failure, repeated: false)
        }
        guard now.timeIntervalSince(told) >= repeatInterval else { return nil }
        failing = (failure, now)
        return .failure(failure, repeated: true)
    }

    /// `decision` reached no target: a failure counts as never told (the next run with that cause
    /// tells it at once); a recovery is owed to the next success.
    public mutating func notDelivered(_ decision: Decision) {
        switch decision {
        case let .failure(cause, _):
            if failing?.cause.key == cause.key { failing = (cause, nil) }
        case .recovery:
            recoveryOwed = true
        }
    }
}
