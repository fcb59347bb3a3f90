import Foundation
import PhoenixCore

/// How a guest on the cluster differs from what the configuration asks for, and which side moved.
public struct GuestDrift: Sendable {
    public enum Cause: String, Sendable {
        /// The configuration asks for what it asked when phoenix converged the guest: the cluster moved.
        case changedOnCluster = "changed on the cluster"
        /// The configuration changed since phoenix converged the guest (the cluster may have moved too).
        case configurationChanged = "configuration changed"
        case neverConverged = "never converged"
        case absent = "absent from the cluster"
    }

    public let id: Int
    public let name: String
    public let cause: Cause
    public let changes: [ConfigChange]

    public var line: String {
        let detail = changes.map { "\($0.key): \($0.from ?? "(unset)") → \($0.to)" }.joined(separator: ", ")
        return TextRules.printable("\(cause.rawValue): guest \(id) \(name)" + (detail.isEmpty ? "" : " (\(detail))"), limit: 400)
    }

    public var json: JSONValue {
        .object([
            ("id", .string(String(id))), ("drift", .string(cause.rawValue)),
            ("changes", .array(changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })),
        ])
    }
}
