/// One HTTP request as the API clients (Proxmox now; Docker and Step-CA next) send it.
public struct HTTPRequestMessage: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

/// What came back.
public struct HTTPResponseMessage: Sendable {
    public var status: Int
    public var reason: String
    public var body: [UInt8]

    public init(status: Int, reason: String = "", body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.body = body
    }
}

/// Why no response came back, already in words a user can act on (never a raw TLS library error).
public enum HTTPTransportError: Error, Sendable, Equatable {
    /// The server's certificate is not trusted, or the handshake failed.
    case tls(String)
    /// Nothing answered: `connection refused`, a timeout, a dropped connection.
    case unreachable(String)
}

/// How an API client reaches its server: the port the clients are written against, so a test can
/// stand a fake in for the network (PhoenixTesting) and the live adapter stays at the edge.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequestMessage, timeout: Double) async throws(HTTPTransportError) -> HTTPResponseMessage
    /// Ends the transport's connections; a transport shared by several clients is ended once.
    func shutdown() async
}
