import PhoenixCore

/// `letsgo`: bring a whole estate up. Create every missing guest, converge the guests' settings,
/// start them all in dependency order, then sync every stage once when a guest asks for it
/// (`trigger_sync_on_completion`; the original meant to sync after each such guest's start, and
/// crashed before it could). Each step is a service of its own (`GuestCreation`, the guests kind,
/// `GuestPower`, `SyncService`); this one decides which steps run, in what order, and stops at
/// the first that fails.
public struct LetsGo: Sendable {
    public enum Step: String, Sendable, CaseIterable {
        case create, converge, start, sync
    }

    public let estate: Estate
    /// Whether the sync may run when a guest asks for it (`--no-sync`: it does not).
    public var sync = true

    public init(estate: Estate) { self.estate = estate }

    /// The enabled guests that ask for a sync once everything runs.
    public var asking: [Int] { estate.guests.filter { $0.enabled && $0.triggerSyncOnCompletion }.map(\.id) }

    /// The steps that run, in order: the sync only when a guest asks for it and it may run.
    public var steps: [Step] { [.create, .converge, .start] + (sync && !asking.isEmpty ? [.sync] : []) }

    /// Takes each step in order with `take`; the first that throws ends the walk with its error.
    public func run(_ take: (Step) async throws -> Void) async throws {
        for step in steps { try await take(step) }
    }
}
