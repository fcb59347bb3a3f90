import Foundation
import PhoenixCore

extension GuestSettings: StatusKind {
    /// Every configured guest beside what the cluster reports (one bulk read) and what converge left.
    public func status(in context: KindContext) async throws(ResourceFailure) -> GuestStatus {
        let records: [Int: GuestRecord]
        do { records = try context.store?.guestRecords() ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        do throws(ProxmoxError) { return try await GuestStatus.read(estate: estate, client: client, records: records) } catch {
            throw Self.failure(error)
        }
    }
}

extension SwarmConvergence: StatusKind {
    /// The members, the stacks' networks and their secrets (names only) as the daemons report them.
    public func status(in context: KindContext) async throws(ResourceFailure) -> SwarmStatus {
        do throws(DockerError) { return try await SwarmStatus.read(estate: estate, connections: connections, digests: context.digests) } catch {
            throw Self.failure(error)
        }
    }
}

extension StacksKind: StatusKind {
    /// Every stack and service: desired and running replicas, the last deploy, health.
    public func status(in context: KindContext) async throws(ResourceFailure) -> StacksStatus {
        let records: [String: StackRecord]
        do { records = try context.store?.stackRecords() ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        do throws(DockerError) {
            return try await StacksStatus.read(estate: deployments.estate, connections: deployments.connections, records: records)
        } catch {
            throw SwarmConvergence.failure(error)
        }
    }
}

extension CertConvergence: StatusKind {
    /// Every certificate as installed (one bulk read per machine) and what each endpoint serves now.
    public func status(in context: KindContext) async throws(ResourceFailure) -> CertsStatus {
        let report = await plan()
        if let error = report.error ?? report.notReady { throw .cannotCheck(reason: error) }
        return await CertsStatus.read(report, names: [], now: now(), timeout: min(5, estate.settings.stepCA.timeout))
    }
}

extension SyncService {
    /// The status of this service's kind of type `K`, read now (reads only); nil when no runner of
    /// the service converges that kind (its stage is not asked for, or cannot run here).
    public func status<K: StatusKind>(of type: K.Type, store: (any StateBackend)?) async throws(ResourceFailure) -> K.Status? {
        guard let kind = runners.lazy.compactMap({ $0.kind as? K }).first else { return nil }
        return try await kind.status(in: .reading(estate, store: store))
    }
}
