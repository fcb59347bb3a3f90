/// A failed Engine API call: the call, what went wrong, and Docker's own message.
public struct DockerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case unreachable
        case tls
        /// The daemon answered with an error status.
        case api(status: Int)
        case malformed
        case timeout
        /// A file phoenix needs on this machine (the client's TLS files) is missing, unreadable or not PEM.
        case localFile
    }

    public let endpoint: String
    public let call: String
    public let kind: Kind
    public let message: String

    public init(endpoint: String, call: String, kind: Kind, message: String) {
        self.endpoint = endpoint
        self.call = call
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .unreachable: return "\(call) on \(endpoint): the Docker daemon cannot be reached: \(message) (check phoenix.docker and the network)"
        case .tls: return "\(call) on \(endpoint): TLS failed: \(message) (check phoenix.docker.tls: the CA, the client certificate and key)"
        case let .api(status): return "\(call) on \(endpoint): Docker answered \(status): \(message)"
        case .malformed: return "\(call) on \(endpoint): an answer phoenix cannot read: \(message)"
        case .timeout: return "\(call) on \(endpoint): no answer in time: \(message)"
        case .localFile: return "\(call) for \(endpoint): \(message)"
        }
    }

    /// The object is not there (404).
    public var isNotFound: Bool { kind == .api(status: 404) }
}
