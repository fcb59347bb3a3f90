import NIOCore
import NIOPosix
import NIOSSL
import PhoenixCore

/// The leaf certificate a TLS server presents, read with one handshake: phoenix compares it by
/// fingerprint with what it installed, so nothing is trusted or rejected here.
public enum ServedCertificate {
    /// The DER of the leaf `host:port` presents for `serverName` (SNI; nil: none).
    public static func leafDER(host: String, port: Int, serverName: String?, timeout: Double) async throws(HTTPTransportError) -> [UInt8] {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .noHostnameVerification
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw .tls("no TLS context: \(error)")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let presented = loop.makePromise(of: [UInt8].self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { channel in
                do {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: serverName) { chain, verification in
                        // Whatever is presented is accepted for the read; the caller decides by fingerprint.
                        if let leaf = chain.first, let der = try? leaf.toDERBytes() {
                            presented.succeed(der)
                        } else {
                            presented.fail(HTTPTransportError.tls("no certificate presented"))
                        }
                        verification.succeed(.certificateVerified)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            presented.fail(error)
            throw LiveHTTPTransport.translate(error)
        }
        let deadline = loop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            presented.fail(HTTPTransportError.unreachable("no TLS handshake within \(Int(timeout)) s"))
        }
        channel.closeFuture.whenComplete { _ in presented.fail(HTTPTransportError.tls("the server closed the connection during the handshake")) }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        do {
            return try await presented.futureResult.get()
        } catch let error as HTTPTransportError {
            throw error
        } catch {
            throw LiveHTTPTransport.translate(error)
        }
    }
}
