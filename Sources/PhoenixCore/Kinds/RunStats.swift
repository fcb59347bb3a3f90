import Synchronization

/// What a command asked of the systems it reached, for `--stats` and the benchmarks: round trips per
/// system and the changes that matter to an operator (writes, reloads and restarts, deploys, signs).
/// Every kind counts into the one value of its run, so one line covers them all.
public final class RunStats: Sendable {
    /// A counter of the stats line.
    public enum Counter: String, Sendable, CaseIterable {
        /// Round trips to a machine (the host or a guest: one ssh, pct or local call each).
        case machineCalls = "machine"
        /// Round trips to the Proxmox API.
        case proxmoxCalls = "Proxmox API"
        /// Round trips to a Docker Engine API.
        case engineCalls = "Engine API"
        /// Round trips to Step-CA.
        case caCalls = "Step-CA"
        /// Files written, renamed into place or removed.
        case writes
        /// Services reloaded or restarted, hooks included.
        case reloads
        /// `docker stack deploy` runs (a rollback's included).
        case deploys
        /// Certificates signed or renewed by the CA.
        case signs
    }

    private let counts = Mutex<[Counter: Int]>([:])

    public init() {}

    public func count(_ counter: Counter, _ amount: Int = 1) {
        guard amount != 0 else { return }
        counts.withLock { $0[counter, default: 0] += amount }
    }

    public subscript(counter: Counter) -> Int { counts.withLock { $0[counter] ?? 0 } }

    /// Every round trip to every system.
    public var roundTrips: Int { self[.machineCalls] + self[.proxmoxCalls] + self[.engineCalls] + self[.caCalls] }
}
