/// A failed API call, naming the call, and the parameter when Proxmox named one.
public struct ProxmoxError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case unreachable
        case tls
        case unauthorized
        case invalidParameters([String: String])
        case server(status: Int)
        case taskFailed(String)
        case timeout
        case malformed
        /// Phoenix itself will not do it (the guest is missing, or not phoenix's).
        case refused
        /// A file phoenix needs on this machine (the API's CA) is missing, unreadable or not PEM.
        case localFile
    }

    public let call: String
    public let kind: Kind
    public let message: String

    public init(call: String, kind: Kind, message: String) {
        self.call = call
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .unreachable: return "\(call): the Proxmox API cannot be reached: \(message) (check --api and the network)"
        case .tls: return "\(call): the API's TLS certificate is not trusted: \(message) (check --api-ca: the cluster's pve-root-ca.pem)"
        case .unauthorized: return "\(call): authentication failure (check the API token: user@realm!tokenid=secret, and its privileges)"
        case let .invalidParameters(errors):
            let details = errors.keys.sorted().map { "\($0): \(errors[$0]!)" }.joined(separator: "; ")
            return "\(call): Proxmox refused the parameters: \(details)"
        case let .server(status): return "\(call): Proxmox answered \(status): \(message)"
        case let .taskFailed(status): return "\(call): the task failed: \(status)"
        case .timeout: return "\(call): no result in time: \(message)"
        case .malformed: return "\(call): an answer phoenix cannot read: \(message)"
        case .refused: return "\(call): \(message)"
        case .localFile: return "\(call): \(message)"
        }
    }
}
