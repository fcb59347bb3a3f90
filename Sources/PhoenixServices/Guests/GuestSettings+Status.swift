import Foundation
import PhoenixCore

extension GuestSettings: StatusKind {
    /// Every configured guest beside what the cluster reports (one bulk read) and what converge left.
    public func status(in context: KindContext) async throws(ResourceFailure) -> GuestStatus {
        let records: [Int: GuestRecord]
        do { records = try await context.store?.guestRecords() ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        do throws(ProxmoxError) { return try await GuestStatus.read(estate: estate, client: client, records: records) } catch {
            throw Self.failure(error)
        }
    }
}
