import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PhoenixCore

/// The live HTTP transport of the API clients (Proxmox, Docker): async-http-client with the TLS
/// settings the client asks for, a short idle pool and no connection retries of its own (the
/// clients decide what to retry). `base` goes in front of every request's URL when the clients
/// send paths only (`http+unix://<socket>`, `https://host:port`).
public final class LiveHTTPTransport: HTTPTransport {
    let http: HTTPClient
    let base: String

    public init(tls: TLSConfiguration?, base: String = "", idleTimeout: TimeAmount, readTimeout: TimeAmount) {
        var configuration = HTTPClient.Configuration()
        if let tls { configuration.tlsConfiguration = tls }
        configuration.connectionPool = .init(idleTimeout: idleTimeout)
        // A failed connection is retried by the client, not here (this would retry an untrusted
        // certificate for the whole connect timeout too).
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: readTimeout)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.base = base
    }

    public func send(_ message: HTTPRequestMessage, timeout: Double) async throws(HTTPTransportError) -> HTTPResponseMessage {
        var request = HTTPClientRequest(url: base + message.url)
        request.method = HTTPMethod(rawValue: message.method)
        for header in message.headers { request.headers.replaceOrAdd(name: header.name, value: header.value) }
        if let body = message.body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let body = try await response.body.collect(upTo: 256 << 20)
            return HTTPResponseMessage(status: Int(response.status.code), reason: response.status.reasonPhrase, body: Array(body.readableBytesView))
        } catch {
            throw Self.translate(error)
        }
    }

    /// Transport errors in words a user can act on: a user never sees a raw TLS library error.
    static func translate(_ error: any Error) -> HTTPTransportError {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return .tls("certificate verify failed") }
        if error is NIOSSLError || error is BoringSSLError || text.contains("handshake") || text.contains("SSL") {
            return .tls("the TLS handshake failed")
        }
        if text.contains("Connection refused") { return .unreachable("connection refused") }
        if text.contains("No such file") { return .unreachable("no socket at the endpoint") }
        return .unreachable(text)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }
}
