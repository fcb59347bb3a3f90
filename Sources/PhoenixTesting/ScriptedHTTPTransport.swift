import Foundation
import PhoenixCore

/// An HTTP transport that answers from a script and records every request: the test double of
/// the API clients' port. No network: it stands in for the server.
public final class ScriptedHTTPTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [HTTPRequestMessage] = []
    private let answer: @Sendable (HTTPRequestMessage, Int) throws(HTTPTransportError) -> HTTPResponseMessage

    /// `answer(request, n)`: the response to the n-th request (from 0).
    public init(_ answer: @escaping @Sendable (HTTPRequestMessage, Int) throws(HTTPTransportError) -> HTTPResponseMessage) {
        self.answer = answer
    }

    public var requests: [HTTPRequestMessage] { lock.withLock { recorded } }

    public func send(_ request: HTTPRequestMessage, timeout: Double) async throws(HTTPTransportError) -> HTTPResponseMessage {
        let index = lock.withLock {
            recorded.append(request)
            return recorded.count - 1
        }
        return try answer(request, index)
    }

    public func shutdown() async {}

    /// A JSON body `{"data": …}` as Proxmox answers.
    public static func data(_ json: String, status: Int = 200) -> HTTPResponseMessage {
        HTTPResponseMessage(status: status, reason: status == 200 ? "OK" : "Error", body: Array("{\"data\": \(json)}".utf8))
    }
}
