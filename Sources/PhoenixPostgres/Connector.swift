import Foundation
import Logging
import NIOSSL
import PhoenixCore
import PostgresNIO
import Synchronization

/// How the store reaches PostgreSQL: the endpoint, the role, the database and TLS from the parsed
/// URL, and the password from wherever `PostgresPassword` found it. The password lives only here and
/// in postgres-nio's configuration, and `PostgresPassword` prints (and mirrors) only its source.
struct Connector: Sendable {
    let location: PostgresLocation
    private let password: PostgresPassword?
    private let tls: TLSConfiguration?

    /// postgres-nio's own logs are not phoenix's: a store's failures reach the user as `StateError`.
    static let quiet = Logger(label: "phoenix.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    init(location: PostgresLocation, password: PostgresPassword?) throws(StateError) {
        self.location = location
        self.password = password
        switch location.tls {
        case .disable:
            tls = nil
        case .require, .verifyCA, .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            switch location.tls {
            case .verifyFull: configuration.certificateVerification = .fullVerification
            case .verifyCA: configuration.certificateVerification = .noHostnameVerification
            default: configuration.certificateVerification = .none
            }
            if let root = location.rootCertificate {
                guard FileManager.default.isReadableFile(atPath: root) else {
                    throw StateError.unavailable(path: location.description, reason: "sslrootcert \(root) cannot be read")
                }
                configuration.trustRoots = .file(root)
            }
            tls = configuration
        }
    }

    var poolConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch location.endpoint {
        case let .tcp(host, port):
            configuration = PostgresClient.Configuration(
                host: host, port: port, username: location.user, password: password?.value, database: location.database,
                tls: tls.map { .require($0) } ?? .disable)
        case let .socket(directory, port):
            configuration = PostgresClient.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: location.user, password: password?.value, database: location.database)
        }
        configuration.options.maximumConnections = 4
        configuration.options.connectTimeout = .seconds(10)
        // No keep-alive statements: the pool's idle connections are closed instead.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = .seconds(60)
        return configuration
    }

    /// A connection of its own (the writer's lock lives on it); a refusal as PostgreSQL said it.
    func connect() async throws(StateError) -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: connectionConfiguration(), id: 1, logger: Self.quiet)
        } catch {
            throw StateError.unavailable(path: location.description, reason: PostgresStateStore.reason(error))
        }
    }

    private func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case let .tcp(host, port):
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: location.user, password: password?.value, database: location.database,
                tls: try tls.map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable)
        case let .socket(directory, port):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: location.user, password: password?.value, database: location.database)
        }
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}

/// The statements a store has sent: each one a round trip to PostgreSQL.
final class StatementCounter: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ amount: Int = 1) { count.add(amount, ordering: .relaxed) }

    var total: Int { count.load(ordering: .relaxed) }
}
