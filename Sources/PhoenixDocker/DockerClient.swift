import Foundation
import NIOSSL
import PhoenixCore
import PhoenixHTTP
import Synchronization

/// A Docker Engine API client for one daemon, the live adapter of the `DockerEngine` port: the API
/// version negotiated on first use (the daemon's, capped at the newest phoenix speaks), the `Host`
/// header on every request, JSON in and out, and every error naming the call and Docker's message.
/// Counts its calls.
public actor DockerClient: DockerEngine {
    /// The newest Engine API version phoenix is written against (Docker 20.10 speaks 1.41).
    public static let newestVersion = (major: 1, minor: 43)
    /// The oldest it accepts (Docker 20.10).
    public static let oldestVersion = (major: 1, minor: 41)

    public nonisolated let endpoint: DockerEndpoint
    let transport: any HTTPTransport
    let timeout: Double
    /// What a client and its counting views share: the negotiated version and the calls made.
    let shared: Shared
    /// Another counter that sees this view's calls too (a view made by `counting(into:)`).
    let alsoCounting: CallCounter?

    final class Shared: Sendable {
        let version = Mutex<String?>(nil)
        let calls = Mutex(0)
    }

    public init(endpoint: DockerEndpoint, transport: any HTTPTransport, timeout: Double = 30) {
        self.endpoint = endpoint
        self.transport = transport
        self.timeout = timeout
        shared = Shared()
        alsoCounting = nil
    }

    private init(viewOf base: DockerClient, alsoCounting: CallCounter) {
        endpoint = base.endpoint
        transport = base.transport
        timeout = base.timeout
        shared = base.shared
        self.alsoCounting = alsoCounting
    }

    public nonisolated var endpointDescription: String { endpoint.description }

    /// Engine API calls made by this client and its views (the version negotiation included).
    public var calls: Int { shared.calls.withLock { $0 } }

    /// This client, its calls also counted in `counter`; it shares the connections and the
    /// negotiated version, and leaves the shutdown to this one.
    public nonisolated func counting(into counter: CallCounter) -> any DockerEngine { DockerClient(viewOf: self, alsoCounting: counter) }

    /// A client over the live transport for `endpoint`: its unix socket, or TCP with the client's
    /// TLS files (URLs are paths only; the transport puts the socket or the host in front).
    public static func live(_ endpoint: DockerEndpoint) throws(DockerError) -> DockerClient {
        var tls: TLSConfiguration?
        let base: String
        switch endpoint.address {
        case let .unix(path):
            // async-http-client's form for a socket: http+unix://<percent-encoded path>
            base = "http+unix://" + (path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path)
        case let .tcp(host, port):
            if let files = endpoint.tls {
                do throws(TLSFileError) {
                    tls = try TLSFiles.configuration(
                        caFile: TLSFile(files.caFile, setting: files.caSetting),
                        client: (TLSFile(files.certFile, setting: files.certSetting), TLSFile(files.keyFile, setting: files.keySetting)))
                } catch {
                    throw DockerError(endpoint: endpoint.description, call: "reading the client's TLS files", kind: .localFile, message: "\(error)")
                }
            }
            base = "\(tls == nil ? "http" : "https")://\(host):\(port)"
        }
        let transport = LiveHTTPTransport(tls: tls, base: base, idleTimeout: .seconds(10), readTimeout: .seconds(120))
        return DockerClient(endpoint: endpoint, transport: transport)
    }

    public func shutdown() async {
        guard alsoCounting == nil else { return }
        await transport.shutdown()
    }

    /// The API version used for every call: `GET /version` once.
    public func apiVersion() async throws(DockerError) -> String {
        if let version = shared.version.withLock({ $0 }) { return version }
        let answer = try await raw("GET", "/version", body: nil, call: "GET /version")
        guard let text = answer["ApiVersion"]?.stringValue, let theirs = Self.parse(text) else {
            throw DockerError(endpoint: endpoint.description, call: "GET /version", kind: .malformed, message: "no ApiVersion")
        }
        guard theirs >= Self.oldestVersion else {
            throw DockerError(
                endpoint: endpoint.description, call: "GET /version", kind: .api(status: 400),
                message: "the daemon speaks API \(text); phoenix needs \(Self.oldestVersion.major).\(Self.oldestVersion.minor) (Docker 20.10) or newer")
        }
        let chosen = theirs < Self.newestVersion ? theirs : Self.newestVersion
        let version = "\(chosen.major).\(chosen.minor)"
        shared.version.withLock { $0 = version }
        return version
    }

    static func parse(_ text: String) -> (major: Int, minor: Int)? {
        let parts = text.split(separator: ".").compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    // MARK: Requests

    public func get(_ path: String, query: [(String, String)] = []) async throws(DockerError) -> JSONValue {
        try await request("GET", path, query: query)
    }

    public func post(_ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws(DockerError) -> JSONValue {
        try await request("POST", path, query: query, body: body ?? .object([]))
    }

    public func delete(_ path: String, query: [(String, String)] = []) async throws(DockerError) -> JSONValue {
        try await request("DELETE", path, query: query)
    }

    /// `/info`-style call under the negotiated version: `/v1.41/info`.
    func request(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil) async throws(DockerError) -> JSONValue {
        let version = try await apiVersion()
        let call = "\(method) \(path)"
        var url = "/v\(version)\(path)"
        if !query.isEmpty { url += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&") }
        return try await raw(method, url, body: body, call: call)
    }

    private func raw(_ method: String, _ url: String, body: JSONValue?, call: String) async throws(DockerError) -> JSONValue {
        var headers: [(name: String, value: String)] = [("Host", endpoint.hostHeader), ("Accept", "application/json")]
        var bytes: [UInt8]?
        if let body {
            headers.append(("Content-Type", "application/json"))
            bytes = Array(JSONWriter(sortedKeys: false, pretty: false).string(body).utf8)
        }
        shared.calls.withLock { $0 += 1 }
        alsoCounting?.count()
        let response: HTTPResponseMessage
        do {
            response = try await transport.send(HTTPRequestMessage(method: method, url: url, headers: headers, body: bytes), timeout: timeout)
        } catch {
            switch error {
            case let .tls(message): throw DockerError(endpoint: endpoint.description, call: call, kind: .tls, message: message)
            case let .unreachable(message): throw DockerError(endpoint: endpoint.description, call: call, kind: .unreachable, message: message)
            }
        }
        let parsed: JSONValue? = response.body.isEmpty ? nil : try? JSONParser.parse(response.body).value
        guard (200..<300).contains(response.status) else {
            let message = parsed?["message"]?.stringValue ?? String(decoding: response.body.prefix(400), as: UTF8.self)
            throw DockerError(
                endpoint: endpoint.description, call: call, kind: .api(status: response.status),
                message: message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if response.body.isEmpty { return .null }
        guard let parsed else {
            throw DockerError(endpoint: endpoint.description, call: call, kind: .malformed, message: "the answer is not JSON")
        }
        return parsed
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// A `filters` query value: `{"label":["a=b"]}`.
    public static func filters(_ filters: [String: [String]]) -> (String, String) {
        let value = JSONValue.object(filters.keys.sorted().map { ($0, .array(filters[$0]!.map(JSONValue.string))) })
        return ("filters", JSONWriter(sortedKeys: true, pretty: false).string(value))
    }
}
