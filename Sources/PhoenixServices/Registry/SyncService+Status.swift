import Foundation
import PhoenixCore

extension SyncService {
    /// The status of this service's kind of type `K`, read now (reads only); nil when no runner of
    /// the service converges that kind (its stage is not asked for, or cannot run here).
    public func status<K: StatusKind>(of type: K.Type, store: (any StateBackend)?) async throws(ResourceFailure) -> K.Status? {
        guard let kind = runners.lazy.compactMap({ $0.kind as? K }).first else { return nil }
        return try await kind.status(in: .reading(estate, store: store))
    }

    /// The same for a command that shows only that status: a kind that cannot run here fails with
    /// why (its stage planned as not applied), never an empty status.
    public func readStatus<K: StatusKind>(of type: K.Type, store: (any StateBackend)?) async -> Result<K.Status, ResourceFailure> {
        do throws(ResourceFailure) {
            if let status = try await status(of: type, store: store) { return .success(status) }
            let why = notApplied.map(\.reason).first ?? "no kind of the stages \(stages.map(\.rawValue).joined(separator: ", ")) reads it"
            return .failure(.cannotCheck(reason: why))
        } catch {
            return .failure(error)
        }
    }
}
