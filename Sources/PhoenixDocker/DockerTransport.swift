import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PhoenixCore

/// The live transport to one Docker daemon: async-http-client over its unix socket, or over TCP
/// with TLS and a client certificate. URLs are the path and query only (`/v1.41/info`); the
/// transport puts the socket or the host in front.
public final class DockerHTTPTransport: HTTPTransport {
    let http: HTTPClient
    let base: String

    public init(endpoint: DockerEndpoint) throws(HTTPTransportError) {
        var configuration = HTTPClient.Configuration()
        switch endpoint.address {
        case let .unix(path):
            // async-http-client's form for a socket: http+unix://<percent-encoded path>
            let encoded = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
            base = "http+unix://\(encoded)"
        case let .tcp(host, port):
            if let tls = endpoint.tls {
                var settings = TLSConfiguration.makeClientConfiguration()
                do {
                    settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tls.caFile))
                } catch {
                    throw .tls("\(tls.caFile) is not a PEM certificate file")
                }
                do {
                    settings.certificateChain = try NIOSSLCertificate.fromPEMFile(tls.certFile).map { .certificate($0) }
                } catch {
                    throw .tls("\(tls.certFile) is not a PEM certificate file")
                }
                do {
                    settings.privateKey = .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem))
                } catch {
                    // Never the file's contents: only that it could not be read as a key.
                    throw .tls("\(tls.keyFile) is not a PEM private key")
                }
                configuration.tlsConfiguration = settings
                base = "https://\(host):\(port)"
            } else {
                base = "http://\(host):\(port)"
            }
        }
        configuration.connectionPool = .init(idleTimeout: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(120))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") { throw .tls("certificate verify failed") }
            if error is NIOSSLError || error is BoringSSLError || text.contains("handshake") || text.contains("SSL") {
                throw .tls("the TLS handshake failed (the daemon refused the client certificate, or its own is not trusted)")
            }
            if text.contains("Connection refused") || text.contains("connectTimeout") { throw .unreachable("connection refused") }
            if text.contains("No such file") { throw .unreachable("no socket at the endpoint") }
            throw .unreachable(text)
        }
    }

    public func shutdown() async {
        try? await http.shutdown()
    }
}
