import Foundation
import PhoenixCore
import PhoenixServices

/// `swarm status` for people and for scripts (`--format json`, its field names a contract).
extension SwarmStatus {
    var json: JSONValue {
        func labels(_ labels: [String: String]) -> JSONValue { .object(labels.keys.sorted().map { ($0, .string(labels[$0]!)) }) }
        let nodes: [JSONValue] = nodes.map { node in
            guard node.configured else {
                return .object([
                    ("name", .string(node.name)), ("role", .string(node.role)), ("availability", .string(node.availability ?? "")),
                    ("state", .string(node.state ?? "")), ("labels", labels(node.labels ?? [:])), ("configured", .bool(false)),
                ])
            }
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(node.name)), ("vmid", .number(Double(node.vmid ?? 0))), ("role", .string(node.role)),
                ("endpoint", .string(node.endpoint ?? "")), ("swarm_state", .string(node.swarmState ?? "unreachable")),
                ("desired_labels", labels(node.desiredLabels ?? [:])),
            ]
            if let error = node.error { members.append(("error", .string(error))) }
            if let id = node.nodeID {
                members += [
                    ("node_id", .string(id)), ("availability", .string(node.availability ?? "")), ("state", .string(node.state ?? "")),
                    ("labels", labels(node.labels ?? [:])),
                ]
            }
            if !node.staleEntries.isEmpty { members.append(("stale_entries", .array(node.staleEntries.map(JSONValue.string)))) }
            return .object(members)
        }
        let networks: [JSONValue] = networks.map {
            .object([
                ("name", .string($0.name)), ("exists", .bool($0.exists)), ("scope", $0.scope.map(JSONValue.string) ?? .null),
                ("used_by", .array($0.usedBy.map(JSONValue.string))),
            ])
        }
        let secrets: [JSONValue] = secrets.map { secret in
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(secret.name)), ("current", secret.current.map(JSONValue.string) ?? .null), ("exists", .bool(secret.exists)),
                ("versions", .array(secret.versions.map(JSONValue.string))), ("used_by", .array(secret.usedBy.map(JSONValue.string))),
            ]
            if let unnamed = secret.unnamed { members.append(("current_unnamed", .string(unnamed))) }
            if let reason = secret.noSource { members.append(("no_source", .string(reason))) }
            return .object(members)
        }
        return .object([
            ("version", .number(1)), ("manager", .string(manager)), ("swarm_state", .string(swarmState)), ("nodes", .array(nodes)),
            ("networks", .array(networks)), ("secrets", .array(secrets)),
        ])
    }

    var text: String {
        func words(_ labels: [String: String]?) -> String { (labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        var out = "manager \(manager) (\(swarmState))\n"
        for node in nodes {
            let labels = words(node.labels)
            let desired = words(node.desiredLabels)
            var line = "node \(node.name)  \(node.role)  \(node.availability ?? "-")"
            line += "  \(node.state ?? node.swarmState ?? "-")  labels \(labels.isEmpty ? "-" : labels)"
            line += node.configured ? " (configured \(desired.isEmpty ? "-" : desired))" : " (not configured)"
            if !node.staleEntries.isEmpty { line += "  \(node.staleEntries.count) stale entries" }
            if let error = node.error { line += "  \(error)" }
            out += line + "\n"
        }
        for network in networks {
            out +=
                "network \(network.name)  \(network.exists ? "exists (\(network.scope ?? ""))" : "missing")  used by \(network.usedBy.joined(separator: ", "))\n"
        }
        for secret in secrets {
            var line = "secret \(secret.name)  "
            if let reason = secret.noSource {
                line += "no source: \(reason)"
            } else if let note = secret.unnamed {
                line += note
            } else {
                line += "\(secret.current ?? "")  \(secret.exists ? "present" : "missing")"
            }
            out += line + "  (\(secret.versions.count) versions on the Swarm)\n"
        }
        return out
    }
}

/// `stacks status` for people (the JSON is the service's, `StacksStatus.json`).
extension StacksStatus {
    var text: String {
        var out = ""
        for stack in stacks {
            let run = stack.lastDeployRun.map { "deployed by run \($0)" } ?? "never deployed by phoenix"
            out +=
                "\(stack.resource)  \(stack.namespace)  \(stack.health)  \(run)  spec \(stack.specHash ?? "-")\(stack.configured ? "" : "  (no longer configured)")\n"
            for service in stack.services {
                out += "  \(service.name)  \(service.image)  \(service.running)/\(service.desired)"
                out += "  \(service.updateState ?? "-")\(service.converged ? "" : "  not converged")\n"
            }
        }
        return out
    }
}
