import Foundation

/// A Docker stack: its compose file and, per environment, variables and Traefik labels.
public struct Stack: Sendable {
    public var name: String
    public var description: String?
    public var environments: [StackEnvironment]
    /// The compose file text (`stacks/<name>/docker-compose.yml`), if the stack has one.
    public var compose: Located<String>?
    /// `nginx_proxy.hostname`: a name the gateway serves for this stack.
    public var proxyHostnames: [Located<DNSName>]
    /// Where the stack's metadata was declared.
    public var location: SourceLocation

    public func environment(_ name: String) -> StackEnvironment? {
        environments.first { $0.name == name }
    }
}

/// One environment of a stack (`production`, `testing`, …).
public struct StackEnvironment: Sendable {
    public var name: String
    public var variables: [StackVariable]
    public var services: [StackService]
    public var location: SourceLocation

    /// Every host named in a `Host(...)` router rule of this environment.
    public var routedHosts: [Located<DNSName>] {
        services.flatMap { $0.labels.flatMap(\.hosts) }
    }
}

/// A compose variable substituted for `${NAME}` / `${NAME:-default}`.
public struct StackVariable: Sendable {
    public var name: String
    public var value: String
    public var location: SourceLocation
}

/// The Traefik labels of one compose service.
public struct StackService: Sendable {
    public var name: String
    public var labels: [TraefikLabel]
}

/// `key=value`, with the hosts of a `Host(...)` rule already extracted.
public struct TraefikLabel: Sendable {
    public var key: String
    public var value: String
    public var hosts: [Located<DNSName>]
    public var location: SourceLocation
}

/// An entry of `certificate-manifest.json`, typed: DNS and IP SANs kept apart.
public struct CertificateRequest: Sendable {
    public var commonName: String
    public var dnsNames: [DNSName]
    /// IPv4 and IPv6, each once (normalised).
    public var ipAddresses: [IPAddress]
    public var guestID: Int?
    public var guestKind: GuestKind?
    public var certPath: String
    public var keyPath: String
    public var owner: String
    public var group: String
    public var certMode: String
    public var keyMode: String
    public var includeCA: Bool
    public var certType: String
    /// `post_renewal_command`: an opaque shell string from the original, kept for the certs stage.
    public var hooks: [String]
    public var location: SourceLocation
    /// `renew_before` and `lifetime` of the entry (nil: `phoenix.step_ca`'s).
    public var renewBefore: RenewalWindow?
    public var lifetime: TimeInterval?
    /// Where the certificate, key and CA go inside the guest (`guest_cert_path`, `guest_key_path`,
    /// `guest_ca_path`; else the targets of the original hook's `mv /tmp/cert.pem …`).
    public var guestCertPath: String?
    public var guestKeyPath: String?
    public var guestCAPath: String?
    /// `verify_at`: `host:port` where the certificate is served (default: found from the configuration).
    public var verifyAt: [String] = []
    /// `verify: false` turns the served-fingerprint check off (warned in plan and sync).
    public var verify = true

    public var resourceID: String { Self.resourceID(commonName) }
    /// The certificate's files in place (installed, or already there): what a service configuration
    /// naming them waits for. The certificate itself settles after its reload and served check.
    public var filesResourceID: String { Self.resourceID(commonName) + "/files" }

    /// A certificate's resource: `cert:<common name>`.
    public static func resourceID(_ commonName: String) -> String { "cert:\(commonName)" }
}

/// Settings the original hard-coded, now optional configuration under `phoenix` in the hypervisor
/// file, with the original's values as defaults.
public struct PhoenixSettings: Sendable {
    /// The guest that runs Traefik (default: the guest named `Traefik-Internal`).
    public var ingressGuest: Int?
    /// The guest that runs the NGINX gateway (default: the guest named `Nginx-Phoenix`).
    public var gatewayGuest: Int?
    /// The Proxmox node whose `host.fw` is rendered (default: the machine's host name).
    public var nodeName: String?
    /// The environment stacks are deployed with (default `production`).
    public var stackEnvironment: String
    /// The host folder the stack files are mirrored to (default `/quickOS/portainer_stacks`).
    public var stacksPath: String
    public var traefik: TraefikSettings
    public var gateway: GatewaySettings
    /// Test, reload and restart commands per service (`dnsmasq`, `nginx`, `traefik`, `pve-firewall`).
    public var docker = DockerSettings()
    public var services: [String: ServiceCommands] = Dictionary(
        uniqueKeysWithValues: ServiceCommands.serviceNames.map { ($0, ServiceCommands.defaults(for: $0)) })
    /// Where the Step-CA guest exports its root certificate on the host, and where the host's trust
    /// store takes it (the original's paths).
    public var trustSource = "/mnt/pve/quickOS/lxc-persistent-data/103/ssl/phoenix_root_ca.crt"
    public var trustDestination = "/usr/local/share/ca-certificates/phoenix_internal_root_ca.crt"
    /// How the certs stage reaches Step-CA and when it renews.
    public var stepCA = StepCASettings()
    /// Where the Proxmox management API listens (`host:port`); a firewall change is kept only if phoenix
    /// can still reach it. Default: the host address, port 8006.
    public var managementEndpoint: String?
    /// What the agent may do by itself (`phoenix.agent`).
    public var agent = AgentPolicy()

    public func commands(for service: String) -> ServiceCommands { services[service] ?? ServiceCommands.defaults(for: service) }
}

/// `phoenix.agent`: which stages' changes wait for a person (`approve`), and which stages the
/// agent repairs by itself when its drift check finds them changed (`self_heal`; default none).
public struct AgentPolicy: Sendable, Equatable {
    public var approve: Set<SyncStage> = []
    public var selfHeal: Set<SyncStage> = []

    public init(approve: Set<SyncStage> = [], selfHeal: Set<SyncStage> = []) {
        self.approve = approve
        self.selfHeal = selfHeal
    }
}

public struct TraefikSettings: Sendable {
    public var web: ListenAddress
    public var websecure: ListenAddress
    public var mesh: ListenAddress
    public var dashboard: ListenAddress
    public var staticFile: String
    public var dynamicDirectory: String
    public var certFile: String
    public var keyFile: String
    public var caFile: String
    public var logLevel: String
}

public struct GatewaySettings: Sendable {
    public var httpListen: ListenAddress
    public var httpsListen: ListenAddress
    public var streamListen: ListenAddress
    public var certFile: String
    public var keyFile: String
    public var caFile: String
    public var acmeWebroot: String
    public var siteFile: String
    public var streamFile: String
    /// Included at the top of the harness `nginx -t` checks staged files with (it loads the stream
    /// module): Debian's `/etc/nginx/modules-enabled/*.conf` by default.
    public var modulesInclude: String = "/etc/nginx/modules-enabled/*.conf"
}
