import Foundation
import PhoenixCore

/// `phoenix start|stop|restart`: walks the guests' dependency graph (dependencies first; stop in
/// reverse), never starts a template, skips a guest already in the wanted state.
public struct GuestPower: Sendable {
    public let estate: Estate
    public let client: any ProxmoxAPI
    public var taskTimeout: Double = 120

    public init(estate: Estate, client: any ProxmoxAPI) {
        self.estate = estate
        self.client = client
    }

    /// What became of one guest.
    public struct Step: Sendable, Equatable {
        public enum Outcome: Sendable, Equatable {
            /// Started or stopped, in this many seconds.
            case changed(seconds: Double)
            case already
            /// Not on the cluster (nothing to stop).
            case absent
        }

        public let id: Int
        public let name: String
        public let state: String
        public let outcome: Outcome
    }

    /// Why a walk cannot start.
    public enum Refusal: Error, Sendable, CustomStringConvertible {
        case unknownGuest(Int)
        case cycle([Int])

        public var description: String {
            switch self {
            case let .unknownGuest(id): return "guest \(id) is not in the configuration"
            case let .cycle(cycle): return "dependency cycle: \(cycle.map(String.init).joined(separator: " → "))"
            }
        }
    }

    /// The order a walk takes (`targets` nil: every guest); a refusal before any call.
    public static func order(_ verb: GraphVerb, targets: [Int]?, in estate: Estate) -> Result<[Int], Refusal> {
        for id in targets ?? [] where estate.guest(id) == nil { return .failure(.unknownGuest(id)) }
        let graph = GuestGraph(estate: estate, verb: verb, targets: targets)
        if let cycle = graph.cycles.first { return .failure(.cycle(cycle)) }
        return .success(graph.order)
    }

    /// Brings every guest of `order` to `state` (`running` or `stopped`), one after the other,
    /// telling `step` of each as it goes. A guest to start that is not on the cluster is an error.
    public func walk(_ order: [Int], to state: String, step: @Sendable (Step) -> Void) async throws(ProxmoxError) -> [Step] {
        var steps: [Step] = []
        let cluster = try await client.guestsByID()
        for id in order {
            guard let guest = cluster[id] else {
                guard state == "stopped" else {
                    throw ProxmoxError(call: "guest \(id)", kind: .refused, message: "it does not exist on the cluster (phoenix create \(id) first)")
                }
                steps.append(Step(id: id, name: estate.guest(id)?.name ?? "", state: state, outcome: .absent))
                step(steps.last!)
                continue
            }
            if guest.status == state {
                steps.append(Step(id: id, name: guest.name, state: state, outcome: .already))
            } else {
                let started = Date()
                try await client.setPower(guest, to: state == "stopped" ? "stop" : "start", timeout: taskTimeout)
                steps.append(Step(id: id, name: guest.name, state: state, outcome: .changed(seconds: Date().timeIntervalSince(started))))
            }
            step(steps.last!)
        }
        return steps
    }
}

/// `phoenix delete`: guests phoenix created, dependents first; one without phoenix's ownership tag
/// is refused unless forced, before anything is deleted.
public struct GuestDeletion: Sendable {
    public let estate: Estate
    public let client: any ProxmoxAPI
    public var taskTimeout: Double = 300
    /// Delete even a guest phoenix did not create.
    public var force = false

    public init(estate: Estate, client: any ProxmoxAPI) {
        self.estate = estate
        self.client = client
    }

    /// Clones before the templates they come from, dependents before what they need: the create
    /// order reversed. Guests the configuration does not know come last, as given.
    public static func order(_ ids: [Int], estate: Estate) -> [Int] {
        var unique: [Int] = []
        for id in ids where !unique.contains(id) { unique.append(id) }
        let known = unique.filter { estate.guest($0) != nil }
        let graph = GuestGraph(estate: estate, verb: .create, targets: known)
        let ordered = graph.order.reversed().filter(known.contains)
        return ordered + unique.filter { !ordered.contains($0) }
    }

    /// What became of one guest: deleted, or not on the cluster.
    public struct Deleted: Sendable, Equatable {
        public let id: Int
        public let name: String?
        public var deleted: Bool { name != nil }
    }

    /// Deletes `ids` in order, forgetting converge's records of each (`store`), telling `done` of
    /// each as it goes. Every guest is checked before any is deleted: a refusal changes nothing.
    public func delete(_ ids: [Int], store: (any StateBackend)?, done: @Sendable (Deleted, StateError?) -> Void) async throws(ProxmoxError) {
        let order = Self.order(ids, estate: estate)
        let cluster = try await client.guestsByID()
        let foreign = order.compactMap { cluster[$0] }.filter { !$0.tags.contains(ProxmoxGuestConfig.ownershipTag) }
        if !force, let first = foreign.first {
            throw ProxmoxError(
                call: "guest \(first.vmid) (\(first.name))", kind: .refused,
                message:
                    "it does not carry the \(ProxmoxGuestConfig.ownershipTag) tag, so phoenix did not create it; nothing was deleted (delete it by hand, or pass --force)"
            )
        }
        for id in order {
            guard let guest = cluster[id] else {
                done(Deleted(id: id, name: nil), nil)
                continue
            }
            try await client.destroy(guest, timeout: taskTimeout)
            // converge's records of a deleted guest go with it (a new guest with the VMID is read afresh).
            var forgotten: StateError?
            do throws(StateError) { try await store?.forgetGuests([id]) } catch { forgotten = error }
            done(Deleted(id: id, name: guest.name), forgotten)
        }
    }
}
