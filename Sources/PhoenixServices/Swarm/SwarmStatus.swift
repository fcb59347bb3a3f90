import Foundation
import PhoenixCore
import PhoenixDocker

/// `phoenix swarm status` and `phoenix stacks status`: what the daemons report beside what the
/// configuration asks for. Reads only: one list call per kind on the manager, `/info` on each member.
public enum SwarmStatus {
    /// Nodes (role, availability, state, labels desired and actual), networks, secrets (names only).
    public static func swarm(estate: Estate, connections: SwarmConnections, digests: ContentDigests) async throws(DockerError) -> JSONValue {
        let convergence = SwarmConvergence(estate: estate, connections: connections)
        let desired = convergence.desired
        let observation = try await convergence.observe()
        var nodes: [JSONValue] = []
        for member in desired.members {
            var info: DockerInfo?
            if member.isManager { info = observation.manager } else if case let .success(found)? = observation.workers[member.vmid] { info = found }
            let node = observation.nodes.first { $0.id == info?.nodeID } ?? observation.nodes.first { $0.hostname == member.name && $0.state == "ready" }
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(member.name)), ("vmid", .number(Double(member.vmid))), ("role", .string(member.isManager ? "manager" : "worker")),
                ("endpoint", .string(member.endpoint)), ("swarm_state", .string(info?.swarmState ?? "unreachable")),
                ("desired_labels", labels(member.labels)),
            ]
            if case let .failure(error)? = observation.workers[member.vmid] { members.append(("error", .string(error.description))) }
            if let node {
                members += [
                    ("node_id", .string(node.id)), ("availability", .string(node.availability)), ("state", .string(node.state)),
                    ("labels", labels(node.labels.filter { $0.key != SwarmConvergence.managedLabels })),
                ]
            }
            let stale = observation.nodes.filter { $0.hostname == member.name && $0.id != node?.id }.map(\.id)
            if !stale.isEmpty { members.append(("stale_entries", .array(stale.map(JSONValue.string)))) }
            nodes.append(.object(members))
        }
        let known = Set(desired.members.map(\.name))
        for node in observation.nodes where !known.contains(node.hostname) {
            nodes.append(
                .object([
                    ("name", .string(node.hostname)), ("role", .string(node.role)), ("availability", .string(node.availability)),
                    ("state", .string(node.state)), ("labels", labels(node.labels)), ("configured", .bool(false)),
                ]))
        }
        let networks: [JSONValue] = desired.networks.keys.sorted().map { name in
            let found = observation.networks.first { $0.name == name }
            return .object([
                ("name", .string(name)), ("exists", .bool(found != nil)), ("scope", found.map { .string($0.scope) } ?? .null),
                ("used_by", .array(desired.networks[name]!.map(JSONValue.string))),
            ])
        }
        let secrets: [JSONValue] = desired.secrets.keys.sorted().map { name in
            let version = convergence.secrets.version(name, digests: digests)
            let current = version?.name
            let versions = observation.secrets.filter { $0.labels[SecretVersions.label] == name || $0.name == name }.map(\.name).sorted()
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(name)), ("current", current.map(JSONValue.string) ?? .null),
                ("exists", .bool(current.map { versions.contains($0) } ?? false)), ("versions", .array(versions.map(JSONValue.string))),
                ("used_by", .array(desired.secrets[name]!.map(JSONValue.string))),
            ]
            if version == .unnamed { members.append(("current_unnamed", .string("not named yet: \(SecretVersions.unnamedNote)"))) }
            if let reason = convergence.secrets.reason(name) { members.append(("no_source", .string(reason))) }
            return .object(members)
        }
        return .object([
            ("version", .number(1)), ("manager", .string(desired.manager?.name ?? "")), ("swarm_state", .string(observation.manager.swarmState)),
            ("nodes", .array(nodes)), ("networks", .array(networks)), ("secrets", .array(secrets)),
        ])
    }

    /// Every configured stack (and every one phoenix deployed): its services, desired and running
    /// replicas, image, update state, the last deploy's run and spec hash, and health.
    public static func stacks(estate: Estate, connections: SwarmConnections, records: [String: StackRecord]) async throws(DockerError) -> JSONValue {
        let desired = SwarmDesired(estate: estate)
        guard let manager = desired.manager else { return .object([("version", .number(1)), ("stacks", .array([]))]) }
        let client = try await connections.client(manager)
        let services = try await client.services()
        let tasks = try await client.tasks()
        var ids = desired.stacks.map { ($0.resourceID, $0.namespace, true) }
        for record in records.values.sorted(by: { $0.id < $1.id }) where !ids.contains(where: { $0.0 == record.id }) {
            ids.append((record.id, record.namespace, false))
        }
        let stacks: [JSONValue] = ids.map { id, namespace, configured in
            let record = records[id]
            let own = services.filter { $0.stack == namespace }.sorted { $0.name < $1.name }
            var healthy = !own.isEmpty
            let rows: [JSONValue] = own.map { service in
                let current = tasks.filter { $0.serviceID == service.id && $0.desiredState == "running" }
                let running = current.filter { $0.state == "running" }.count
                let want = service.replicas ?? current.count
                let converged = running == want && (service.updateState == nil || service.updateState == "completed")
                if !converged { healthy = false }
                return .object([
                    ("name", .string(service.name)), ("image", .string(service.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue ?? "")),
                    ("desired", .number(Double(want))), ("running", .number(Double(running))),
                    ("update_state", service.updateState.map(JSONValue.string) ?? .null),
                    ("spec_hash", service.labels[StackCompose.specLabel].map(JSONValue.string) ?? .null), ("converged", .bool(converged)),
                ])
            }
            return .object([
                ("resource", .string(id)), ("stack", .string(namespace)), ("configured", .bool(configured)),
                ("last_deploy_run", record.map { .number(Double($0.run)) } ?? .null), ("spec_hash", record.map { .string($0.specHash) } ?? .null),
                ("health", .string(own.isEmpty ? "not deployed" : healthy ? "converged" : "not converged")), ("services", .array(rows)),
            ])
        }
        return .object([("version", .number(1)), ("stacks", .array(stacks))])
    }

    static func labels(_ labels: [String: String]) -> JSONValue { .object(labels.keys.sorted().map { ($0, .string(labels[$0]!)) }) }
}
