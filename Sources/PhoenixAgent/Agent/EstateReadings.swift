import Foundation
import PhoenixCore
import PhoenixServices

/// What the agent last read of the estate's guests, stacks and certificates, through the same
/// typed status services `phoenix status`, `stacks status` and `certs status` call: the dashboard's
/// pages and the API render these without touching any system. Reads only; each is read again at
/// every drift check (the guests and stacks also after a run that applied something, the
/// certificates at every certificate check).
public struct EstateReadings: Sendable {
    /// One status as read, or why it could not be read, and when.
    public enum Reading<Status: Sendable>: Sendable {
        case read(Status, at: Date)
        case failed(String, at: Date)

        public var status: Status? {
            if case let .read(status, _) = self { return status }
            return nil
        }

        public var failure: String? {
            if case let .failed(reason, _) = self { return reason }
            return nil
        }

        public var at: Date {
            switch self {
            case let .read(_, at), let .failed(_, at): return at
            }
        }
    }

    /// nil: not read yet, or the agent does not converge that stage.
    public var guests: Reading<GuestStatus>?
    public var stacks: Reading<StacksStatus>?
    public var certificates: Reading<CertsStatus>?

    public init(guests: Reading<GuestStatus>? = nil, stacks: Reading<StacksStatus>? = nil, certificates: Reading<CertsStatus>? = nil) {
        self.guests = guests
        self.stacks = stacks
        self.certificates = certificates
    }

    /// The guests' and stacks' statuses of `service` (of the stages it converges): one bulk read
    /// of the cluster, one of the Swarm's services and tasks. A status that cannot be read says why.
    static func read(_ service: SyncService, store: any StateBackend) async -> EstateReadings {
        EstateReadings(guests: await reading(service, GuestSettings.self, store), stacks: await reading(service, StacksKind.self, store))
    }

    private static func reading<K: StatusKind>(_ service: SyncService, _ kind: K.Type, _ store: any StateBackend) async -> Reading<K.Status>? {
        let result: Result<K.Status?, ResourceFailure>
        do throws(ResourceFailure) { result = .success(try await service.status(of: kind, store: store)) } catch { result = .failure(error) }
        switch result {
        case let .success(status): return status.map { .read($0, at: Date()) }
        case let .failure(failure): return .failed(failure.description, at: Date())
        }
    }

    /// The guests that should run and do not: configured, enabled, not templates, and not
    /// `running` on the cluster (absent ones included).
    public var guestsNotRunning: [GuestStatus.Row] {
        (guests?.status?.rows ?? []).filter { $0.shouldRun && $0.status != "running" }
    }

    /// The configured stacks the Swarm does not run as configured (not converged, or not deployed).
    public var stacksNotConverged: [StacksStatus.Stack] {
        (stacks?.status?.stacks ?? []).filter { $0.configured && $0.health != "converged" }
    }
}
