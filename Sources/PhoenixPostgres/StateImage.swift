import Foundation
import PhoenixCore
import PostgresNIO

/// What a run compares with, read in one statement when it takes the writer's lock: the applied
/// files, converge's guests, the stacks, each kind's newest records and the newest verified digest of
/// every resource. The run is the only writer while it holds the lock, so its own writes keep this
/// current and its reads cost no round trip.
struct StateImage: Sendable {
    var applied: [String: AppliedRecord] = [:]
    var guests: [Int: GuestRecord] = [:]
    var stacks: [String: StackRecord] = [:]
    /// Kind → resource → its newest record (a removal leaves it out).
    var kinds: [String: [String: KindRecord]] = [:]
    var verified: [String: String] = [:]

    /// One row shape for every table: which it is, five text columns and a run.
    static let query: PostgresQuery = """
        SELECT 'applied', resource, unit, path, mode, digest, NULL::bigint FROM phoenix.applied
        UNION ALL SELECT 'guest', vmid::text, fingerprint, observed, pending, NULL, run_id FROM phoenix.guests
        UNION ALL SELECT 'stack', id, namespace, spec_hash, compose, services, run_id FROM phoenix.stacks
        UNION ALL (SELECT DISTINCT ON (kind, resource) 'kind', kind, resource, value, NULL, NULL, run_id FROM phoenix.kind_records
            ORDER BY kind, resource, run_id DESC)
        UNION ALL (SELECT DISTINCT ON (resource) 'verified', resource, new_digest, NULL, NULL, NULL, NULL FROM phoenix.journal
            WHERE phase = 'verified' AND new_digest IS NOT NULL ORDER BY resource, id DESC)
        """

    static func read(from store: PostgresStateStore) async throws(StateError) -> StateImage {
        var image = StateImage()
        for row in try await store.query(query, .session) {
            let columns: (String, String?, String?, String?, String?, String?, Int64?)
            do { columns = try row.decode((String, String?, String?, String?, String?, String?, Int64?).self) } catch { throw store.unavailable(error) }
            let (source, a, b, c, d, e, run) = columns
            switch source {
            case "applied":
                guard let a, let b, let unit = ServiceUnit(key: b), let c, let d, let e else { continue }
                image.applied[a] = AppliedRecord(id: a, unit: unit, path: c, mode: d, digest: e)
            case "guest":
                guard let vmid = a.flatMap(Int.init), let b, let c, let run else { continue }
                image.guests[vmid] = GuestRecord(vmid: vmid, fingerprint: b, observed: c, run: run, pending: PostgresStateStore.pending(d ?? ""))
            case "stack":
                guard let a, let b, let c, let d, let e, let run else { continue }
                image.stacks[a] = StackRecord(id: a, namespace: b, specHash: c, compose: d, services: PostgresStateStore.services(e), run: run)
            case "kind":
                guard let a, let b, let run, let c else { continue }
                image.kinds[a, default: [:]][b] = KindRecord(resource: b, value: c, run: run)
            case "verified":
                guard let a, let b else { continue }
                image.verified[a] = b
            default: continue
            }
        }
        return image
    }
}
