/// Where a certificate is presented, so the certs stage can check that the served leaf is the new
/// one: the manifest's `verify_at`, else what the configuration says about the gateway, Traefik
/// and a Docker daemon on TCP. A certificate whose hook reloads a service (or runs a shell command,
/// which may reload anything) but that phoenix cannot find served anywhere is a failure with that
/// reason before anything changes, unless the entry says `"verify": false`.
public struct CertEndpoint: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// SNI sent in the handshake (nil for an IP or a wildcard name).
    public let serverName: String?
    /// For messages: "the gateway", "verify_at".
    public let what: String

    public var description: String { "\(what) \(host):\(port)" }
}

public enum CertServing {
    /// The endpoints to check, or why there are none although the certificate is reloaded into a
    /// service (nil reason: nothing presents it, or verification is off).
    public static func endpoints(_ request: CertificateRequest, estate: Estate, hooks: [CertHook]) -> (endpoints: [CertEndpoint], missing: String?) {
        guard request.verify else { return ([], nil) }
        let name = request.commonName.hasPrefix("*") ? nil : request.commonName
        if !request.verifyAt.isEmpty {
            return (request.verifyAt.compactMap { endpoint($0, serverName: name, what: "verify_at") }, nil)
        }
        var found: [CertEndpoint] = []
        let settings = estate.settings
        if let gateway = Gateway(estate: estate).guest, gateway.id == request.guestID, request.guestCertPath == settings.gateway.certFile,
            let address = gateway.staticAddress
        {
            found.append(CertEndpoint(host: address.description, port: settings.gateway.httpsListen.port.number, serverName: name, what: "the gateway"))
        }
        if let ingress = Ingress(estate: estate).guest, ingress.id == request.guestID, request.guestCertPath == settings.traefik.certFile,
            let address = ingress.staticAddress
        {
            found.append(CertEndpoint(host: address.description, port: settings.traefik.websecure.port.number, serverName: name, what: "Traefik"))
        }
        let restartsDocker = hooks.contains { if case .service(_, "docker", request.guestID) = $0 { return true } else { return false } }
        if restartsDocker, let guest = request.guestID, let vm = estate.guest(guest) {
            let text = settings.docker.endpoints[guest] ?? "tcp://\(vm.staticAddress?.description ?? vm.name):\(settings.docker.port)"
            if text.hasPrefix("tcp://"), let endpoint = endpoint(String(text.dropFirst(6)), serverName: name, what: "the Docker daemon") {
                found.append(endpoint)
            }
        }
        // A shell hook may reload anything: phoenix cannot tell what, so it needs a place to check too.
        let reloads = hooks.contains { if case .swarmSecrets = $0 { return false } else { return true } }
        if found.isEmpty && reloads {
            return ([], "no address to check where it is served after its reload: name verify_at (host:port), or set \"verify\": false")
        }
        return (found, nil)
    }

    static func endpoint(_ text: String, serverName: String?, what: String) -> CertEndpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty else { return nil }
        return CertEndpoint(host: host, port: port, serverName: serverName, what: what)
    }
}
