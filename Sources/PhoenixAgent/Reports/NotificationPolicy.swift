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
/// run succeeds after failures, nothing for other successes. Pure: the caller passes the time.
public struct NotificationPolicy: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Tell of this failure; `repeated` when the same cause was told before.
        case failure(NotificationCause, repeated: Bool)
        /// The runs succeed again.
        case recovery
    }

    /// The shortest time between two notifications of the same cause.
    public var repeatInterval: TimeInterval
    /// The cause of the current failure and when it was last told, nil while runs succeed.
    public private(set) var failing: (cause: NotificationCause, told: Date)?

    public init(repeatInterval: TimeInterval = 3600) {
        self.repeatInterval = repeatInterval
    }

    /// The decision for a run that ended at `now`, failed with `failure` or succeeded (nil).
    public mutating func decide(failure: NotificationCause?, at now: Date) -> Decision? {
        guard let failure else {
            guard failing != nil else { return nil }
            failing = nil
            return .recovery
        }
        guard let current = failing, current.cause.key == failure.key else {
            failing = (failure, now)
            return .failure(failure, repeated: false)
        }
        guard now.timeIntervalSince(current.told) >= repeatInterval else { return nil }
        failing = (failure, now)
        return .failure(failure, repeated: true)
    }
}
