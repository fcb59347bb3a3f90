/// What sync would do to one resource.
public enum ChangeAction: String, Sendable, Codable, Comparable {
    case create, update, delete, unchanged

    public static func < (lhs: ChangeAction, rhs: ChangeAction) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The phases of one change in the journal, for every kind of resource: `intent` before the
/// mutation, `applied` once it is live, then `verified`, `restored` (a check failed and the
/// previous state is back) or `failed` (it failed before anything changed).
public enum JournalPhase: String, Sendable, CaseIterable {
    case intent, applied, verified, restored, failed

    /// The change is over: nothing is left for the next run to finish.
    public var isFinal: Bool { self == .verified || self == .restored || self == .failed }
}

/// A resource as the state store remembers it: what phoenix last installed, where.
public struct AppliedRecord: Sendable, Hashable {
    public let id: String
    public let unit: ServiceUnit
    public let path: String
    public let mode: String
    public let digest: String

    public init(id: String, unit: ServiceUnit, path: String, mode: String, digest: String) {
        self.id = id
        self.unit = unit
        self.path = path
        self.mode = mode
        self.digest = digest
    }
}

/// One line of a plan.
public struct Change: Sendable {
    public let id: String
    public let unit: ServiceUnit
    public let path: String
    public let action: ChangeAction
    /// Why, in words: what changed and where it comes from.
    public let reasons: [String]
    /// The installed file differs from what phoenix last installed.
    public let editedByHand: Bool
    /// The desired resource (absent for a delete).
    public let resource: Resource?
    public var stage: SyncStage { unit.stage }
}

/// Every change sync would make, resource by resource, in a stable order.
public struct Plan: Sendable {
    public let changes: [Change]
    public let notApplied: [(stage: SyncStage, reason: String)]
    public let notes: [String]
    public let warnings: [String]

    public var pending: [Change] { changes.filter { $0.action != .unchanged } }
    public var hasChanges: Bool { !pending.isEmpty }

    /// Compares the desired resources with what is installed (`actual`: resource id → file contents,
    /// nil when absent) and with what phoenix last applied. Resources phoenix applied before that are
    /// no longer desired are deleted, but only in the stages being planned: phoenix deletes only what
    /// it created.
    public init(
        desired: DesiredState, stages: Set<SyncStage>, actual: [String: String?], applied: [String: AppliedRecord], reactivate: Set<String> = [],
        digests: ContentDigests = ContentDigests(key: nil)
    ) {
        self.init(
            resources: desired.resources, stages: stages, actual: actual, applied: applied, reactivate: reactivate, notApplied: desired.notApplied,
            notes: desired.notes, warnings: desired.warnings, digests: digests)
    }

    /// - Parameters:
    ///   - reactivate: resources an interrupted run changed without finishing: their service is tested,
    ///     reloaded and verified again even when the file already has the desired contents.
    ///   - preserve: resources never deleted (a rollback keeps files whose contents the store never held).
    ///   - digests: how the store fingerprinted what it applied.
    public init(
        resources: [Resource], stages: Set<SyncStage>, actual: [String: String?], applied: [String: AppliedRecord], reactivate: Set<String> = [],
        preserve: Set<String> = [], notApplied: [(stage: SyncStage, reason: String)] = [], notes: [String] = [], warnings: [String] = [],
        digests: ContentDigests = ContentDigests(key: nil)
    ) {
        var changes: [Change] = []
        for resource in resources {
            let installed = actual[resource.id] ?? nil
            let record = applied[resource.id]
            let edited = record.map { installed == nil || !digests.matches(installed ?? "", $0.digest) } ?? false
            var reasons: [String] = []
            let action: ChangeAction
            if let installed {
                if installed == resource.contents && reactivate.contains(resource.id) {
                    action = .update
                    reasons.append("an interrupted run installed it without finishing: test, reload and verify again")
                } else if installed == resource.contents {
                    action = .unchanged
                } else {
                    action = .update
                    // A file that may hold secrets is described by its line numbers only.
                    reasons.append(LineDifference(from: installed, to: resource.contents).summary(showingLines: !resource.sensitive))
                    if edited { reasons.append("the installed file was changed by hand since phoenix last applied it") }
                }
            } else {
                action = .create
                reasons.append(record == nil ? "not installed yet" : "deleted by hand since phoenix last applied it")
            }
            if action != .unchanged { reasons.append("from \(resource.origin)") }
            changes.append(
                Change(id: resource.id, unit: resource.unit, path: resource.path, action: action, reasons: reasons, editedByHand: edited, resource: resource))
        }
        let desiredIDs = Set(resources.map(\.id))
        for record in applied.values where !desiredIDs.contains(record.id) && !preserve.contains(record.id) && stages.contains(record.unit.stage) {
            guard (actual[record.id] ?? nil) != nil else { continue }
            changes.append(
                Change(
                    id: record.id, unit: record.unit, path: record.path, action: .delete,
                    reasons: ["phoenix installed it and the configuration no longer asks for it"], editedByHand: false, resource: nil))
        }
        self.changes = changes.sorted { ($0.stage, $0.id) < ($1.stage, $1.id) }
        self.notApplied = notApplied
        self.notes = notes
        self.warnings = warnings
    }
}

extension Plan {
    /// Plans of stages planned apart (one run, several passes), as one.
    public init(merging plans: [Plan]) {
        self.changes = plans.flatMap(\.changes).sorted { ($0.stage, $0.id) < ($1.stage, $1.id) }
        var notApplied: [(stage: SyncStage, reason: String)] = []
        for item in plans.flatMap(\.notApplied) where !notApplied.contains(where: { $0.stage == item.stage && $0.reason == item.reason }) {
            notApplied.append(item)
        }
        self.notApplied = notApplied.sorted { $0.stage < $1.stage }
        var notes: [String] = []
        for note in plans.flatMap(\.notes) where !notes.contains(note) { notes.append(note) }
        self.notes = notes
        var warnings: [String] = []
        for warning in plans.flatMap(\.warnings) where !warnings.contains(warning) { warnings.append(warning) }
        self.warnings = warnings
    }
}

/// How one resource compares across what is installed, what phoenix last applied and what the
/// configuration asks for now.
public enum Drift: String, Sendable, Codable {
    case inSync = "in sync"
    case configurationChanged = "configuration changed"
    case changedByHand = "changed by hand"
    case deletedByHand = "deleted by hand"
    case both = "changed by hand and configuration changed"
    case neverApplied = "never applied"
    /// Phoenix applied it and the configuration no longer asks for it.
    case noLongerConfigured = "no longer configured"
    /// What is there cannot be read: nothing can be said (a failure, never "in sync").
    case cannotCheck = "cannot check"

    public var isDrift: Bool { self != .inSync }

    /// - Parameters: digests of the installed file (nil when absent), of what phoenix last applied
    ///   (nil when it never did) and of what the configuration asks for (nil when it no longer does).
    public init(actual: String?, applied: String?, desired: String?) {
        guard let applied else {
            self = actual != nil && actual == desired ? .inSync : .neverApplied
            return
        }
        switch (actual == applied, desired == applied) {
        case (true, true): self = .inSync
        case (true, false): self = .configurationChanged
        case (false, true): self = actual == nil ? .deletedByHand : .changedByHand
        case (false, false): self = .both
        }
    }
}

/// The changed region between two texts, for plan reasons: common lines at both ends are skipped and
/// the middle is reported by line numbers with a few lines of each side.
public struct LineDifference: Sendable {
    public let firstLine: Int
    public let removed: [String]
    public let added: [String]

    public init(from old: String, to new: String) {
        let before = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let after = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var prefix = 0
        while prefix < before.count, prefix < after.count, before[prefix] == after[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < before.count - prefix, suffix < after.count - prefix, before[before.count - 1 - suffix] == after[after.count - 1 - suffix] {
            suffix += 1
        }
        firstLine = prefix + 1
        removed = Array(before[prefix..<(before.count - suffix)])
        added = Array(after[prefix..<(after.count - suffix)])
    }

    public var summary: String { summary(showingLines: true) }

    public func summary(showingLines: Bool) -> String {
        let span = max(removed.count, added.count)
        let lines = span <= 1 ? "line \(firstLine)" : "lines \(firstLine)-\(firstLine + span - 1)"
        var text = "\(lines): \(removed.count) removed, \(added.count) added"
        guard showingLines else { return text + " (contents not shown: the file may hold secrets)" }
        let shown = removed.prefix(3).map { "-" + $0 } + added.prefix(3).map { "+" + $0 }
        if !shown.isEmpty { text += " (" + shown.map { TextRules.printable($0) }.joined(separator: " | ") + (span > 3 ? " | ..." : "") + ")" }
        return text
    }
}
