import Foundation
import PhoenixCore
import Synchronization

/// An HTTP transport that answers from a script and records every request: the test double of
/// the API clients' port. No network: it stands in for the server.
public final class ScriptedHTTPTransport: HTTPTransport, Sendable {
    private let recorded = Mutex<(requests: [HTTPRequestMessage], shutdowns: Int)>(([], 0))
    private let answer: @Sendable (HTTPRequestMessage, Int) throws(HTTPTransportError) -> HTTPResponseMessage

    /// `answer(request, n)`: the response to the n-th request (from 0).
    public init(_ answer: @escaping @Sendable (HTTPRequestMessage, Int) throws(HTTPTransportError) -> HTTPResponseMessage) {
        self.answer = answer
    }

    public var requests: [HTTPRequestMessage] { recorded.withLock { $0.requests } }

    /// How many times `shutdown()` was called.
    public var shutdowns: Int { recorded.withLock { $0.shutdowns } }

    public func send(_ request: HTTPRequestMessage, timeout: Double) async throws(HTTPTransportError) -> HTTPResponseMessage {
        let index = recorded.withLock {
            $0.requests.append(request)
            return $0.requests.count - 1
        }
        return try answer(request, index)
    }

    public func shutdown() async { recorded.withLock { $0.shutdowns += 1 } }

    /// A JSON body `{"data": …}` as Proxmox answers.
    public static func data(_ json: String, status: Int = 200) -> HTTPResponseMessage {
        HTTPResponseMessage(status: status, reason: status == 200 ? "OK" : "Error", body: Array("{\"data\": \(json)}".utf8))
    }
}
