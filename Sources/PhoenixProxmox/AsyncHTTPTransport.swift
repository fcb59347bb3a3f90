import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PhoenixCore

/// The live HTTP transport: async-http-client with TLS verified against a CA file, a short idle
/// pool (pveproxy closes idle connections after 5 s) and no connection retries of its own (the
/// clients decide what to retry).
public final class AsyncHTTPTransport: HTTPTransport {
    let http: HTTPClient

    /// - Parameter caFile: the PEM the server's certificate chains to (nil: the system's roots).
    public init(caFile: String?, idleTimeout: TimeAmount = .seconds(3)) throws(HTTPTransportError) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw .tls("\(caFile) is not a PEM certificate file: \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool = .init(idleTimeout: idleTimeout)
        // A failed connection is retried by the client, not here (this would retry an untrusted
        // certificate for the whole connect timeout too).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ message: HTTPRequestMessage, timeout: Double) async throws(HTTPTransportError) -> HTTPResponseMessage {
        var request = HTTPClientRequest(url: message.url)
        request.method = HTTPMethod(rawValue: message.method)
        for header in message.headers { request.headers.add(name: header.name, value: header.value) }
        if let body = message.body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let body = try await response.body.collect(upTo: 64 << 20)
            return HTTPResponseMessage(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Array(body.readableBytesView))
        } catch {
            // Transport errors are translated here: a user never sees a raw TLS library error.
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") { throw .tls("certificate verify failed") }
            if error is NIOSSLError || error is BoringSSLError || text.contains("handshake") { throw .tls("the TLS handshake failed") }
            throw .unreachable(text.contains("Connection refused") ? "connection refused" : text)
        }
    }

    public func shutdown() async {
        try? await http.shutdown()
    }
}
