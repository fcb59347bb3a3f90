import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PhoenixCore
import PhoenixEngine
import PhoenixHTTP
import Synchronization

/// How phoenix signs in to the Proxmox API.
public enum ProxmoxAuth: Sendable {
    /// An API token, `user@realm!tokenid=secret` (sent as `Authorization: PVEAPIToken=…`).
    case token(String)
    /// A user and password exchanged for a ticket (`/access/ticket`) and its CSRF token.
    case ticket(user: String, password: String)
}

/// A Proxmox VE API client, the live adapter of the `ProxmoxAPI` port: token or ticket auth, TLS
/// verified against the cluster CA, form-encoded writes, task (UPID) polling, and retries only for
/// what is transient (5xx lock timeouts and dropped connections), with backoff and a cap. Call
/// `shutdown()` before the process ends.
public final class ProxmoxClient: ProxmoxAPI {
    public let endpoint: String
    let transport: any HTTPTransport
    let auth: ProxmoxAuth
    let session: Session
    public let counter: CallCounter
    /// Another counter that sees this client's calls too (a view made by `counting(into:)`).
    let alsoCounting: CallCounter?
    /// A view shares its parent's connections and never shuts them down.
    let ownsConnections: Bool
    /// Added to every call, for the apply benchmark only (zero unless PHOENIX_TEST_LATENCY_MS is set).
    let injectedLatency: TimeInterval

    /// - Parameters: `endpoint` as `https://host:8006`; `caFile` the PEM the API's certificate
    ///   chains to, `caSetting` the option that named it (for messages); `counter` counts the
    ///   calls (shared by the clients of one command's steps).
    public convenience init(
        endpoint: String, auth: ProxmoxAuth, caFile: String?, caSetting: String? = nil, counter: CallCounter = CallCounter(),
        injectedLatency: TimeInterval = InjectedLatency.fromEnvironment()
    ) throws(ProxmoxError) {
        let transport: LiveHTTPTransport
        do {
            // pveproxy closes idle connections after 5 s: phoenix drops its own at 3.
            let tls = try TLSFiles.configuration(caFile: caFile.map { TLSFile($0, setting: caSetting) })
            transport = LiveHTTPTransport(tls: tls, idleTimeout: .seconds(3), readTimeout: .seconds(60))
        } catch {
            throw ProxmoxError(call: "reading the API's CA", kind: .localFile, message: "\(error)")
        }
        self.init(endpoint: endpoint, auth: auth, transport: transport, counter: counter, injectedLatency: injectedLatency)
    }

    /// A client over any transport (a test's fake, or the live one).
    public init(
        endpoint: String, auth: ProxmoxAuth, transport: any HTTPTransport, counter: CallCounter = CallCounter(),
        injectedLatency: TimeInterval = InjectedLatency.fromEnvironment()
    ) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.auth = auth
        self.transport = transport
        self.counter = counter
        self.injectedLatency = injectedLatency
        session = Session()
        alsoCounting = nil
        ownsConnections = true
    }

    private init(viewOf base: ProxmoxClient, alsoCounting: CallCounter) {
        endpoint = base.endpoint
        transport = base.transport
        auth = base.auth
        session = base.session
        counter = base.counter
        injectedLatency = base.injectedLatency
        self.alsoCounting = alsoCounting
        ownsConnections = false
    }

    /// This client, its calls also counted in `counter` (one guest's change, one firewall scope).
    public func counting(into counter: CallCounter) -> any ProxmoxAPI { ProxmoxClient(viewOf: self, alsoCounting: counter) }

    public func shutdown() async {
        guard ownsConnections else { return }
        await transport.shutdown()
    }

    public func get(_ path: String, query: [(String, String)] = []) async throws(ProxmoxError) -> JSONValue {
        try await call(.GET, path, query: query)
    }

    public func post(_ path: String, _ form: [(String, String)] = []) async throws(ProxmoxError) -> JSONValue {
        try await call(.POST, path, form: form)
    }

    public func put(_ path: String, _ form: [(String, String)] = []) async throws(ProxmoxError) -> JSONValue {
        try await call(.PUT, path, form: form)
    }

    public func delete(_ path: String, query: [(String, String)] = []) async throws(ProxmoxError) -> JSONValue {
        try await call(.DELETE, path, query: query)
    }

    /// One call, retried (three attempts, 0.5 s then 1 s apart) only when the failure is transient:
    /// Proxmox's lock timeouts and 502/503, a refused connection (pveproxy restarting; the request
    /// never reached it), and a dropped connection on a read. An untrusted certificate or a refused
    /// token is final at once.
    func call(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], form: [(String, String)] = []
    ) async throws(ProxmoxError)
        -> JSONValue
    {
        let name = "\(method.rawValue) \(path)"
        var attempt = 0
        while true {
            attempt += 1
            do {
                if injectedLatency > 0 { try? await Task.sleep(nanoseconds: UInt64(injectedLatency * 1e9)) }
                return try await once(method, path, query: query, form: form, name: name)
            } catch {
                let transient: Bool
                switch error.kind {
                case .unreachable: transient = error.message == "connection refused" || method == .GET
                case let .server(status): transient = status >= 500 && (error.message.contains("got timeout") || status == 502 || status == 503)
                default: transient = false
                }
                guard transient, attempt < 3 else { throw error }
                try? await Task.sleep(nanoseconds: UInt64(500_000_000 * attempt))
            }
        }
    }

    private func once(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], form: [(String, String)], name: String
    ) async throws(ProxmoxError)
        -> JSONValue
    {
        var url = "\(endpoint)/api2/json\(path)"
        if !query.isEmpty { url += "?" + Self.encode(query) }
        var request = HTTPRequestMessage(method: method.rawValue, url: url, headers: [("Accept", "application/json")])
        switch auth {
        case let .token(token):
            request.headers.append(("Authorization", "PVEAPIToken=\(token)"))
        case .ticket:
            let ticket = try await ticket()
            request.headers.append(("Cookie", "PVEAuthCookie=\(ticket.cookie)"))
            if method != .GET { request.headers.append(("CSRFPreventionToken", ticket.csrf)) }
        }
        if method == .POST || method == .PUT {
            request.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            request.body = Array(Self.encode(form).utf8)
        }
        counter.count()
        alsoCounting?.count()
        let response: HTTPResponseMessage
        do throws(HTTPTransportError) {
            response = try await transport.send(request, timeout: 60)
        } catch {
            switch error {
            case let .tls(reason): throw ProxmoxError(call: name, kind: .tls, message: reason)
            case let .unreachable(reason): throw ProxmoxError(call: name, kind: .unreachable, message: reason)
            }
        }
        let body = response.body
        let document = (try? JSONParser.parse(body).value) ?? .null
        let message =
            document["message"].flatMap { if case let .string(text) = $0 { text } else { nil } }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? response.reason
        switch response.status {
        case 200..<300:
            return document["data"] ?? .null
        case 401:
            throw ProxmoxError(call: name, kind: .unauthorized, message: message)
        case 400:
            var errors: [String: String] = [:]
            if case let .object(members)? = document["errors"] {
                for member in members { if case let .string(text) = member.value { errors[member.key] = text.trimmingCharacters(in: .whitespacesAndNewlines) } }
            }
            throw ProxmoxError(call: name, kind: errors.isEmpty ? .server(status: 400) : .invalidParameters(errors), message: message)
        default:
            throw ProxmoxError(call: name, kind: .server(status: response.status), message: message)
        }
    }

    private func ticket() async throws(ProxmoxError) -> Session.Ticket {
        if let ticket = await session.current { return ticket }
        guard case let .ticket(user, password) = auth else { throw ProxmoxError(call: "POST /access/ticket", kind: .unauthorized, message: "") }
        let request = HTTPRequestMessage(
            method: "POST", url: "\(endpoint)/api2/json/access/ticket", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(Self.encode([("username", user), ("password", password)]).utf8))
        counter.count()
        alsoCounting?.count()
        let response: HTTPResponseMessage
        do throws(HTTPTransportError) {
            response = try await transport.send(request, timeout: 30)
        } catch {
            switch error {
            case let .tls(reason): throw ProxmoxError(call: "POST /access/ticket", kind: .tls, message: reason)
            case let .unreachable(reason): throw ProxmoxError(call: "POST /access/ticket", kind: .unreachable, message: reason)
            }
        }
        guard response.status == 200, let document = try? JSONParser.parse(response.body).value,
            case let .string(cookie)? = document["data"]?["ticket"], case let .string(csrf)? = document["data"]?["CSRFPreventionToken"]
        else { throw ProxmoxError(call: "POST /access/ticket", kind: .unauthorized, message: "status \(response.status)") }
        let ticket = Session.Ticket(cookie: cookie, csrf: csrf)
        await session.set(ticket)
        return ticket
    }

    /// `application/x-www-form-urlencoded`, also used for query strings.
    static func encode(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map {
            "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }
        .joined(separator: "&")
    }
}

/// The ticket of a ticket-authenticated client, shared by its concurrent calls.
actor Session {
    struct Ticket: Sendable {
        let cookie: String
        let csrf: String
    }
    private(set) var current: Ticket?
    func set(_ ticket: Ticket) { current = ticket }
}
