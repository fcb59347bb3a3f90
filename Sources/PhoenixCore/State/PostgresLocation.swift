/// Where a PostgreSQL state store lives, parsed from a libpq URL at the boundary (`--state
/// postgres://user@host:port/db?sslmode=verify-full&sslrootcert=/etc/phoenix/pg-root.pem`, or a
/// socket directory: `postgres:///db?host=/run/postgresql`). A password is never taken from the
/// URL (it would show in argv and in `ps`): it comes from a file or the environment
/// (`PostgresPassword`). `description` is the only form phoenix prints.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// A socket directory (`.s.PGSQL.<port>` inside it).
        case socket(directory: String, port: Int)
    }

    public var user: String
    public var database: String
    public var endpoint: Endpoint
    /// `sslmode`: `verify-full` when the URL says nothing (libpq's own default is weaker).
    public var tls: TLSMode
    /// `sslrootcert`: the CA the server's certificate must chain to.
    public var rootCertificate: String?

    /// Why a `--state` URL cannot be used: the words name the part, never a password.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { "--state: \(reason)" }
    }

    /// Whether `text` names a PostgreSQL store (anything else is a SQLite path).
    public static func isURL(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }

    public init(user: String, database: String, endpoint: Endpoint, tls: TLSMode = .verifyFull, rootCertificate: String? = nil) {
        self.user = user
        self.database = database
        self.endpoint = endpoint
        self.tls = tls
        self.rootCertificate = rootCertificate
    }

    /// Parses a libpq URL; `defaultUser` is the user when the URL names none (the operating
    /// system's, as libpq does).
    public init(parsing text: String, defaultUser: String) throws(Invalid) {
        guard let scheme = ["postgresql://", "postgres://"].first(where: text.hasPrefix) else {
            throw Invalid(reason: "a PostgreSQL store is postgres://user@host:port/database")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var query: [String: String] = [:]
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let key = Self.decode(parts[0]), let value = Self.decode(parts[1]) else {
                    throw Invalid(reason: "the query's \"\(Self.printable(String(pair)))\" is not key=value")
                }
                query[key] = value
            }
            rest = rest[..<mark]
        }
        let path = rest.firstIndex(of: "/").map { rest[rest.index(after: $0)...] } ?? ""
        let authority = rest.firstIndex(of: "/").map { rest[..<$0] } ?? rest
        var user = defaultUser
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            guard !credentials.contains(":") else {
                throw Invalid(reason: "the URL holds a password: put it in a file (--state-password-file, PGPASSFILE) or $PGPASSWORD")
            }
            guard let named = Self.decode(String(credentials)), !named.isEmpty else { throw Invalid(reason: "the user name cannot be read") }
            user = named
            hostPort = authority[authority.index(after: at)...]
        }
        guard let database = Self.decode(String(path)), !database.isEmpty, !database.contains("/") else {
            throw Invalid(reason: "name the database: postgres://user@host:port/database")
        }
        var port = 5432
        var host = String(hostPort)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw Invalid(reason: "an IPv6 host is written [address]") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                port = try Self.port(String(after.dropFirst()))
            } else if !after.isEmpty {
                throw Invalid(reason: "after [address] comes :port")
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            port = try Self.port(String(host[host.index(after: colon)...]))
            host = String(host[..<colon])
        }
        if let value = query.removeValue(forKey: "port") { port = try Self.port(value) }
        if let socket = query.removeValue(forKey: "host") {
            guard socket.hasPrefix("/") else { throw Invalid(reason: "host=\(Self.printable(socket)) in the query is a socket directory: an absolute path") }
            endpoint = .socket(directory: socket, port: port)
        } else {
            guard !host.isEmpty else { throw Invalid(reason: "name the host (or a socket directory: ?host=/run/postgresql)") }
            endpoint = .tcp(host: host.lowercased(), port: port)
        }
        if let mode = query.removeValue(forKey: "sslmode") {
            guard let known = TLSMode(rawValue: mode) else {
                throw Invalid(
                    reason: "sslmode=\(Self.printable(mode)) is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tls = known
        } else {
            tls = .verifyFull
        }
        rootCertificate = query.removeValue(forKey: "sslrootcert")
        if query["password"] != nil { throw Invalid(reason: "the URL holds a password: put it in a file (--state-password-file, PGPASSFILE) or $PGPASSWORD") }
        if let unknown = query.keys.sorted().first {
            throw Invalid(reason: "\(Self.printable(unknown)) is not a parameter phoenix reads (sslmode, sslrootcert, host, port)")
        }
        if case .socket = endpoint {
            // As libpq: a unix socket is local to the host and carries no TLS, whatever sslmode says.
            tls = .disable
            rootCertificate = nil
        } else if (tls == .verifyCA || tls == .verifyFull) && rootCertificate == nil {
            throw Invalid(reason: "sslmode=\(tls.rawValue) needs sslrootcert=PATH, the CA the server's certificate chains to")
        }
        self.user = user
        self.database = database
    }

    /// The location as phoenix prints it: no password can be in it (none is ever read from the URL).
    public var description: String {
        switch endpoint {
        case let .tcp(host, port):
            let shown = host.contains(":") ? "[\(host)]" : host
            let query = ["sslmode=\(tls.rawValue)"] + (rootCertificate.map { ["sslrootcert=\($0)"] } ?? [])
            return "postgres://\(user)@\(shown):\(port)/\(database)?" + query.joined(separator: "&")
        case let .socket(directory, port):
            return "postgres://\(user)@/\(database)?host=\(directory)&port=\(port)"
        }
    }

    private static func port(_ text: String) throws(Invalid) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw Invalid(reason: "port \(printable(text)) is not 1 to 65535") }
        return port
    }

    /// Percent-decoding as URLs have it; nil when an escape is broken.
    static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func printable(_ text: String) -> String { TextRules.printable(text, limit: 80) }
}
