import Foundation
import PhoenixCore
import PhoenixHTTP

/// The Step-CA API phoenix needs, the live adapter of the `CertificateAuthority` port: roots,
/// provisioners, `/1.0/sign` with a one-time token and `/1.0/renew` over mTLS with the current
/// certificate. TLS trusts only the pinned root, so a proxy's certificate in front of the CA fails
/// the handshake.
public actor StepCAClient: CertificateAuthority {
    /// Makes the transport for a call: without a client certificate (sign, reads) or with one
    /// (renew).
    public typealias TransportFactory = @Sendable ((chainPEM: String, keyPEM: String)?) throws(HTTPTransportError) -> any HTTPTransport

    public nonisolated let url: String
    let timeout: TimeInterval
    let makeTransport: TransportFactory
    var shared: (any HTTPTransport)?
    /// Calls made, by name (`sign`, `renew`, `roots`, `provisioners`, `health`).
    public private(set) var counts: [String: Int] = [:]

    public init(url: String, timeout: TimeInterval, makeTransport: @escaping TransportFactory) {
        self.url = url
        self.timeout = timeout
        self.makeTransport = makeTransport
    }

    /// The live client: async-http-client trusting only `rootPEM`.
    public static func live(url: String, rootPEM: String, timeout: TimeInterval) -> StepCAClient {
        StepCAClient(url: url, timeout: timeout) { client throws(HTTPTransportError) in
            LiveHTTPTransport(tls: try TLSFiles.pinned(rootPEM: rootPEM, client: client), idleTimeout: .seconds(10), readTimeout: .seconds(Int64(timeout)))
        }
    }

    public var signCalls: Int { counts["sign", default: 0] + counts["renew", default: 0] }

    /// Shuts the shared transport down (its owner calls this once it is done; a later call opens a
    /// new one). Taken out first: a call that comes in while it shuts down opens its own.
    public func shutdown() async {
        let transport = shared
        shared = nil
        await transport?.shutdown()
    }

    public func health() async throws(StepCAError) {
        let body = try await call("health", "GET", "/health")
        guard body["status"]?.stringValue == "ok" else { throw failure(.malformed, "GET /health", "the CA does not report ok") }
    }

    /// The CA's roots (PEM).
    public func roots() async throws(StepCAError) -> [String] {
        let body = try await call("roots", "GET", "/roots")
        guard case let .array(items)? = body["crts"] else { throw failure(.malformed, "GET /roots", "no crts in the answer") }
        return items.compactMap(\.stringValue)
    }

    /// The JWK provisioner `name`: its key id and encrypted private key.
    public func provisioner(named name: String) async throws(StepCAError) -> (keyID: String, encryptedKey: String) {
        var cursor = ""
        for _ in 0..<50 {
            let body = try await call("provisioners", "GET", "/provisioners?limit=100" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"))
            guard case let .array(items)? = body["provisioners"] else { throw failure(.malformed, "GET /provisioners", "no provisioners in the answer") }
            for item in items where item["name"]?.stringValue == name {
                guard item["type"]?.stringValue == "JWK" else {
                    throw failure(.malformed, "GET /provisioners", "provisioner \(name) is \(item["type"]?.stringValue ?? "?"), not JWK")
                }
                guard let keyID = item["key"]?["kid"]?.stringValue, let encrypted = item["encryptedKey"]?.stringValue else {
                    throw failure(.malformed, "GET /provisioners", "provisioner \(name) publishes no encrypted key")
                }
                return (keyID, encrypted)
            }
            guard let next = body["nextCursor"]?.stringValue, !next.isEmpty else { break }
            cursor = next
        }
        throw failure(.api(status: 404), "GET /provisioners", "the CA has no provisioner named \(name)")
    }

    /// Signs `csrPEM` with a one-time token, for `lifetime`.
    public func sign(csrPEM: String, token: String, lifetime: TimeInterval) async throws(StepCAError) -> IssuedCertificate {
        let request = JSONValue.object([("csr", .string(csrPEM)), ("ott", .string(token)), ("notAfter", .string(Durations.goText(lifetime)))])
        return try issued(try await call("sign", "POST", "/1.0/sign", body: request), call: "POST /1.0/sign")
    }

    /// Renews the still-valid certificate `chainPEM` (its key `keyPEM` authenticates the TLS
    /// connection; it is not sent): the same key and names, a new validity of the same length.
    public func renew(chainPEM: String, keyPEM: String) async throws(StepCAError) -> IssuedCertificate {
        let transport: any HTTPTransport
        do throws(HTTPTransportError) {
            transport = try makeTransport((chainPEM, keyPEM))
        } catch {
            throw translate(error, "POST /1.0/renew")
        }
        // The dedicated transport is shut down before the answer is looked at, whatever it was.
        let answer: Result<JSONValue, StepCAError>
        do throws(StepCAError) {
            answer = .success(try await call("renew", "POST", "/1.0/renew", body: .object([]), over: transport))
        } catch {
            answer = .failure(error)
        }
        await transport.shutdown()
        return try issued(try answer.get(), call: "POST /1.0/renew")
    }

    func issued(_ body: JSONValue, call: String) throws(StepCAError) -> IssuedCertificate {
        var chain: [String] = []
        if case let .array(items)? = body["certChain"] { chain = items.compactMap(\.stringValue) }
        if chain.isEmpty, let leaf = body["crt"]?.stringValue { chain = [leaf] + (body["ca"]?.stringValue.map { [$0] } ?? []) }
        guard !chain.isEmpty, let ca = body["ca"]?.stringValue ?? chain.dropFirst().first else {
            throw failure(.malformed, call, "no certificate in the answer")
        }
        return IssuedCertificate(chainPEM: chain.map(Self.terminated).joined(), caPEM: Self.terminated(ca))
    }

    static func terminated(_ pem: String) -> String { pem.hasSuffix("\n") ? pem : pem + "\n" }

    func call(
        _ name: String, _ method: String, _ path: String, body: JSONValue? = nil, over dedicated: (any HTTPTransport)? = nil
    )
        async throws(StepCAError) -> JSONValue
    {
        let label = "\(method) \(path.split(separator: "?").first.map(String.init) ?? path)"
        let transport: any HTTPTransport
        if let dedicated {
            transport = dedicated
        } else if let shared {
            transport = shared
        } else {
            do throws(HTTPTransportError) {
                transport = try makeTransport(nil)
            } catch {
                throw translate(error, label)
            }
            shared = transport
        }
        counts[name, default: 0] += 1
        var message = HTTPRequestMessage(method: method, url: url + path, headers: [("Accept", "application/json")])
        if let body {
            message.body = Array(JSONWriter(pretty: false).string(body).utf8)
            message.headers.append(("Content-Type", "application/json"))
        }
        let response: HTTPResponseMessage
        do throws(HTTPTransportError) {
            response = try await transport.send(message, timeout: timeout)
        } catch {
            throw translate(error, label)
        }
        let parsed = try? JSONParser.parse(response.body).value
        guard (200..<300).contains(response.status) else {
            let said = parsed?["message"]?.stringValue ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            throw failure(.api(status: response.status), label, "HTTP \(response.status): \(TextRules.printable(said, limit: 300))")
        }
        guard let parsed else { throw failure(.malformed, label, "the answer is not JSON") }
        return parsed
    }

    func translate(_ error: HTTPTransportError, _ call: String) -> StepCAError {
        switch error {
        case let .tls(reason):
            return failure(.tls, call, "\(reason) (phoenix trusts only the pinned root: is a proxy answering in front of the CA?)")
        case let .unreachable(reason):
            return failure(.unreachable, call, reason)
        }
    }

    func failure(_ kind: StepCAError.Kind, _ call: String, _ reason: String) -> StepCAError {
        StepCAError(kind: kind, call: call, url: url, reason: reason)
    }
}
