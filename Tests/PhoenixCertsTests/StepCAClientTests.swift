import Foundation
import PhoenixCore
import PhoenixTesting
import Synchronization
import Testing

@testable import PhoenixCerts

/// The client's transports, with a scripted one standing in for Step-CA (no CA answers here: the
/// integration tests' real step-ca covers the protocol; these cover who shuts what down).
@Suite("Step-CA client: transports shut down by their owner")
struct StepCAClientTests {
    /// Every transport the client asked its factory for, in order.
    final class Made: Sendable {
        let transports = Mutex<[ScriptedHTTPTransport]>([])
        var all: [ScriptedHTTPTransport] { transports.withLock { $0 } }
    }

    static func client(status: Int, made: Made) -> StepCAClient {
        StepCAClient(url: "https://ca.test:9000", timeout: 5) { _ throws(HTTPTransportError) in
            let transport = ScriptedHTTPTransport { _, _ in
                let body = status == 201 ? #"{"crt": "LEAF", "ca": "CA"}"# : #"{"message": "the certificate has expired"}"#
                return HTTPResponseMessage(status: status, body: Array(body.utf8))
            }
            made.transports.withLock { $0.append(transport) }
            return transport
        }
    }

    @Test("a renewal's own mTLS transport is shut down before renew returns, whether the CA renewed or refused")
    func renewalShutsItsTransportDown() async throws {
        let renewed = Made()
        let issued = try await Self.client(status: 201, made: renewed).renew(chainPEM: "CURRENT", keyPEM: "KEY")
        #expect(issued.chainPEM == "LEAF\nCA\n")
        #expect(renewed.all.count == 1)
        #expect(renewed.all.map(\.requests.count) == [1])
        #expect(renewed.all.map(\.shutdowns) == [1])

        let refused = Made()
        await #expect(throws: StepCAError.self) { try await Self.client(status: 401, made: refused).renew(chainPEM: "CURRENT", keyPEM: "KEY") }
        #expect(refused.all.count == 1)
        #expect(refused.all.map(\.requests.count) == [1])
        #expect(refused.all.map(\.shutdowns) == [1])
    }

    @Test("the shared transport is shut down once by shutdown(); a call after it opens a new one")
    func sharedTransportShutDown() async throws {
        let made = Made()
        let client = StepCAClient(url: "https://ca.test:9000", timeout: 5) { _ throws(HTTPTransportError) in
            let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 200, body: Array(#"{"crts": ["ROOT"]}"#.utf8)) }
            made.transports.withLock { $0.append(transport) }
            return transport
        }
        #expect(try await client.roots() == ["ROOT"])
        #expect(try await client.roots() == ["ROOT"])
        #expect(made.all.map(\.requests.count) == [2], "one shared transport for both calls")
        await client.shutdown()
        await client.shutdown()
        #expect(made.all.map(\.shutdowns) == [1])
        #expect(try await client.roots() == ["ROOT"])
        #expect(made.all.map(\.shutdowns) == [1, 0])
        await client.shutdown()
        #expect(made.all.map(\.shutdowns) == [1, 1])
    }
}
