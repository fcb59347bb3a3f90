import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PhoenixAgent
import ServiceLifecycle
import UnixSignals

/// The agent as a process: its HTTP API (Hummingbird) on the listen address, the agent's loops,
/// and the signals a service manager sends. SIGTERM or SIGINT: the server stops taking requests,
/// the running job stops at its next boundary and is recorded interrupted, and the process ends
/// (within 30 s: what does not stop by then is cancelled). SIGHUP re-reads the token and secret
/// files.
public struct AgentServer: Sendable {
    public var host: String
    public var port: Int
    /// TLS from PEM files (`--tls-cert`, `--tls-key`); nil: plain HTTP (loopback).
    public var tls: (certificate: String, key: String)?
    public let api: AgentAPI
    public let logger: Logger

    public init(host: String, port: Int, tls: (certificate: String, key: String)? = nil, api: AgentAPI, logger: Logger) {
        self.host = host
        self.port = port
        self.tls = tls
        self.api = api
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT; `listening` is called with the bound port (0 asks for a free one).
    public func run(listening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let builder: HTTPServerBuilder
        if let tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            builder = try .tls(.http1(), tlsConfiguration: TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        } else {
            builder = .http1()
        }
        let application = Application(
            responder: APIResponder(api: api), server: builder,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "phoenix-agent"),
            onServerRunning: { channel in await listening(channel.localAddress?.port ?? 0) }, logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: AgentService(agent: api.agent), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: ReloadOnHangUp(access: api.access, logger: logger)),
                .init(service: application),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = Duration.seconds(25)
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// Every request to the agent's API, whatever its path: the body read up to the limit, then
/// handed over as an `APIRequest`.
struct APIResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let api: AgentAPI

    func respond(to request: Request, context: Context) async throws -> Response {
        var body: [UInt8] = []
        var tooLarge = false
        for try await buffer in request.body {
            guard body.count + buffer.readableBytes <= AgentAPI.bodyLimit else {
                tooLarge = true
                break
            }
            body += buffer.readableBytesView
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let answer = await api.handle(
            APIRequest(
                method: request.method.rawValue, path: request.uri.path, query: query,
                headers: request.headers.map { ($0.name.rawName, $0.value) }, body: body, bodyTooLarge: tooLarge))
        var headers: HTTPFields = [.contentType: answer.contentType]
        for (name, value) in answer.headers.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if let stream = answer.stream {
            let first = answer.body
            return Response(
                status: .init(code: answer.status), headers: headers,
                body: ResponseBody { writer in
                    if !first.isEmpty { try await writer.write(ByteBuffer(bytes: first)) }
                    for await chunk in stream { try await writer.write(ByteBuffer(bytes: chunk)) }
                    try await writer.finish(nil)
                })
        }
        return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}

/// The agent's loops as a service: a graceful shutdown stops it at the running job's boundary.
struct AgentService: Service {
    let agent: Agent

    func run() async throws {
        // Structured: the shutdown waits in the group beside the agent, and ends with it.
        // The agent's loops end at the running job's boundary; the waiter then has nothing to wait for.
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await agent.run()
                return true
            }
            group.addTask {
                if (try? await gracefulShutdown()) != nil { await agent.shutdown() }
                return false
            }
            for await agentEnded in group where agentEnded { group.cancelAll() }
        }
        if let failure = await agent.failure { throw AgentFailure(reason: failure) }
    }
}

/// The agent stopped by itself (its lease was lost): the process exits 1 with the reason.
struct AgentFailure: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// SIGHUP re-reads the tokens and the webhook secret; a file that no longer reads keeps what was
/// read before, and the log says why.
struct ReloadOnHangUp: Service {
    let access: AgentAccess
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try access.reload()
                logger.info("SIGHUP: the token and webhook secret files were read again")
            } catch {
                logger.error("SIGHUP: \(error); the files read before stay in use")
            }
        }
    }
}
