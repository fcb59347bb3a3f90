import Foundation
import PhoenixCore

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
        do { records = try await context.store?.stackRecords() ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        do throws(DockerError) {
            return try await StacksStatus.read(estate: deployments.estate, connections: deployments.connections, records: records)
        } catch {
            throw SwarmConvergence.failure(error)
        }
    }
}
