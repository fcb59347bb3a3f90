import Foundation
import PhoenixCore
import PhoenixDocker
import Synchronization

/// One Engine API client per Swarm member's daemon, made when first needed and shut down together.
/// A view made by `counting(into:)` hands out the same clients, their calls also counted.
public actor SwarmConnections {
    let settings: DockerSettings
    /// Builds a client for an endpoint (the live transport; tests may stand another in).
    let make: @Sendable (DockerEndpoint) throws(DockerError) -> any DockerEngine
    private var clients: [String: any DockerEngine] = [:]
    /// The connections a view hands out, and what it counts their calls in.
    private let base: SwarmConnections?
    private let counter: CallCounter?

    public init(
        settings: DockerSettings,
        make: @escaping @Sendable (DockerEndpoint) throws(DockerError) -> any DockerEngine = { endpoint throws(DockerError) in
            try DockerClient.live(endpoint)
        }
    ) {
        self.settings = settings
        self.make = make
        base = nil
        counter = nil
    }

    private init(viewOf base: SwarmConnections, counting counter: CallCounter) {
        settings = base.settings
        make = base.make
        self.base = base
        self.counter = counter
    }

    /// These connections, every call of their clients also counted in `counter` (one step's).
    public nonisolated func counting(into counter: CallCounter) -> SwarmConnections {
        SwarmConnections(viewOf: base ?? self, counting: counter)
    }

    /// These connections, the Engine API calls also counted in `stats` (a kind's or a step's).
    public nonisolated func counting(into stats: RunStats) -> SwarmConnections {
        counting(into: CallCounter(into: stats, as: .engineCalls))
    }

    /// The endpoint of a member, with the client TLS files for a TCP daemon.
    public nonisolated func endpoint(_ member: SwarmDesired.Member) throws(DockerError) -> DockerEndpoint {
        let tls = settings.tls.map { DockerEndpoint.TLS(caFile: $0.caFile, certFile: $0.certFile, keyFile: $0.keyFile, settings: settings.tlsSettings) }
        guard let endpoint = DockerEndpoint(member.endpoint, tls: tls) else {
            throw DockerError(endpoint: member.endpoint, call: "connect", kind: .unreachable, message: "not a Docker endpoint")
        }
        return endpoint
    }

    public func client(_ member: SwarmDesired.Member) async throws(DockerError) -> any DockerEngine {
        if let base, let counter { return try await base.client(member).counting(into: counter) }
        if let client = clients[member.endpoint] { return client }
        let client = try make(try endpoint(member))
        clients[member.endpoint] = client
        return client
    }

    /// Engine API calls made so far, over every daemon.
    public func calls() async -> Int {
        if let base { return await base.calls() }
        var total = 0
        for client in clients.values { total += await client.calls }
        return total
    }

    /// Ends every client's connections (a view leaves them to the connections it was made from).
    public func shutdown() async {
        guard base == nil else { return }
        for client in clients.values { await client.shutdown() }
        clients = [:]
    }
}

/// Where each Swarm secret's value comes from, and the versioned name it is created under:
/// `<name>_<12 hex>` of a keyed hash of the value (the state store's key), so a new value is a new
/// secret and the name says nothing a guess could be checked against.
public struct SecretVersions: Sendable {
    public enum Source: Sendable {
        case value(Secret)
        /// Why phoenix has no value for it.
        case missing(String)
    }

    let base: [String: Source]
    /// The values of the secrets fed by certificates, as the certs stage leaves them in this run.
    public let feed: CertificateFeed
    /// The certificates (`cert:…`) whose files are the values of some secrets: read after they settle.
    public let feedingCertificates: [String]

    /// Every secret's source now (a certificate-fed value as the certs stage last set it).
    public var sources: [String: Source] {
        var sources = base
        for (name, value) in feed.values() { sources[name] = .value(value) }
        return sources
    }

    public init(
        estate: Estate, desired: SwarmDesired, readFile: (String) -> String? = SecretVersions.readFile, feed: CertificateFeed = CertificateFeed()
    ) {
        var sources: [String: Source] = [:]
        let feeds = CertSecretFeed.all(in: estate)
        var feeding = Set<String>()
        for name in desired.secrets.keys {
            if let fed = feeds[name] {
                feeding.insert(fed.request.resourceID)
                sources[name] = .missing("it is fed by certificate \(fed.request.commonName) (its \(fed.part.rawValue)), which is not issued yet")
            } else if let path = estate.settings.docker.secretFiles[name] {
                if let text = readFile(path) {
                    sources[name] = .value(Secret(text))
                } else {
                    sources[name] = .missing("its file \(path) (phoenix.docker.secrets.\(name).file) cannot be read")
                }
            } else if name == SwarmDesired.portainerPasswordSecret, let password = estate.portainerAdminPassword {
                sources[name] = .value(password)
            } else if name.hasPrefix("portainer_tls_") || name.hasPrefix("portainer_client_") {
                sources[name] = .missing("no certificate of the manifest feeds it (a post_renewal_command with docker secret create \(name) /tmp/cert.pem)")
            } else {
                sources[name] = .missing("phoenix has no value for it: name a file in phoenix.docker.secrets.\(name).file")
            }
        }
        base = sources
        self.feed = feed
        feedingCertificates = feeding.sorted()
    }

    public static func readFile(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// The version of a secret's current value.
    public enum Version: Sendable, Equatable {
        /// `<name>_<12 hex>`: the name sync creates it under.
        case named(String)
        /// There is no state store key yet (plan before the first sync): the name is keyed by the
        /// key sync creates with the store, so nothing can name it now.
        case unnamed

        /// The name, when it can be known.
        public var name: String? {
            if case let .named(name) = self { return name }
            return nil
        }
    }

    /// Said in plan and status where the name of a new version cannot be known yet.
    public static let unnamedNote = "its name is fixed when sync creates the state store"

    /// The version of `name`'s current value (nil when it has no source).
    public func version(_ name: String, digests: ContentDigests) -> Version? {
        guard case let .value(secret)? = feed.values()[name].map(Source.value) ?? base[name] else { return nil }
        // A keyed hash under no key is not the name sync will use: never announce it.
        guard digests.key != nil else { return .unnamed }
        let hash = digests.digest(name + "\u{0}" + secret.revealed, sensitive: true).split(separator: ":").last.map(String.init) ?? ""
        return .named("\(name)_\(hash.prefix(12))")
    }

    public func reason(_ name: String) -> String? {
        if feed.values()[name] != nil { return nil }
        if case let .missing(reason)? = base[name] { return reason }
        return nil
    }

    /// The label phoenix puts on the secrets it creates: the unversioned name.
    public static let label = "io.phoenix.secret"
}

/// The certificate-fed secret values of one run: read from the installed files before the run and
/// replaced by the certs stage when it installs a new certificate, so the swarm stage versions the
/// secret from what is installed now. Shared by reference between the kinds of a run.
public final class CertificateFeed: Sendable {
    private let current = Mutex<[String: Secret]>([:])

    public init() {}

    public func values() -> [String: Secret] { current.withLock { $0 } }

    public func set(_ name: String, _ value: Secret) { current.withLock { $0[name] = value } }
}
