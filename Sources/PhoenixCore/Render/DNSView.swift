/// The internal DNS view: every name and the address it resolves to.
///
/// Three kinds of names, highest precedence first: a VM's `portainer_agent_hostname` (its own address —
/// the agent speaks mTLS directly), declared service names (the ingress), and guest self names.
public struct DNSView: Sendable {
    public enum Kind: Int, Sendable, Comparable, CustomStringConvertible {
        case agent = 1
        case service = 2
        case selfName = 3

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String {
            switch self {
            case .agent: return "Portainer agent name"
            case .service: return "service name"
            case .selfName: return "guest name"
            }
        }
    }

    public struct Record: Sendable, Hashable {
        public let name: DNSName
        public let address: IPv4Address
        public let kind: Kind
        /// Who claimed the name, for messages ("VM 1002 portainer_agent_hostname").
        public let origin: String
        public let location: SourceLocation
    }

    /// One record per name, sorted by name.
    public let records: [Record]

    /// Builds the view, reporting conflicts to `sink` (when given).
    public init(estate: Estate, sink: DiagnosticSink? = nil) {
        let ingress = Ingress(estate: estate)
        let gatewayID = Gateway(estate: estate).guest?.id
        let caGuestID = estate.settings.stepCA.guest
        var claims: [DNSName: [Record]] = [:]
        func claim(_ name: DNSName, _ address: IPv4Address, _ kind: Kind, _ origin: String, _ location: SourceLocation) {
            claims[name, default: []].append(Record(name: name, address: address, kind: kind, origin: origin, location: location))
        }
        let domain = estate.domain
        for guest in estate.guests where guest.enabled && !guest.isTemplate {
            let label = "\(guest.kind == .lxc ? "LXC" : "VM") \(guest.id)"
            if let agent = guest.portainerAgentHostname, let address = guest.staticAddress {
                claim(agent, address, .agent, "\(label) portainer_agent_hostname", guest.source)
            }
            if let service = guest.traefikService, let name = service.name.qualified(in: domain) {
                // The gateway's own service name resolves to the gateway: through Traefik it would loop back.
                // The CA's resolves to the CA: a client pinning its root must reach step-ca's own TLS,
                // never Traefik's (the original's `ca.<domain>` went to Traefik and broke `step ca bootstrap`).
                let target = guest.id == gatewayID || guest.id == caGuestID ? guest.staticAddress : ingress.address
                if let target { claim(name, target, .service, "\(label) traefik_service", service.location) }
            }
            if let hostname = guest.hostname, let address = guest.staticAddress, let name = hostname.qualified(in: domain) {
                claim(name, address, .selfName, "\(label) name", guest.source)
            }
        }
        if let text = estate.settings.stepCA.dnsName, let name = DNSName(text), let ca = estate.guest(caGuestID), ca.enabled, let address = ca.staticAddress {
            claim(name, address, .agent, "step_ca.dns_name (the CA is reached as itself)", ca.source)
        }
        if let ingressAddress = ingress.address, let ingressGuest = ingress.guest {
            if let dashboard = DNSName("traefik")?.qualified(in: domain) {
                claim(dashboard, ingressAddress, .service, "the Traefik dashboard", ingressGuest.source)
            }
            for stack in estate.stacks {
                for environment in stack.environments {
                    for host in environment.routedHosts {
                        claim(host.value, ingressAddress, .service, "stack \(stack.name) (\(environment.name)) Host rule", host.location)
                    }
                }
                for host in stack.proxyHostnames {
                    claim(host.value, ingressAddress, .service, "stack \(stack.name) nginx_proxy", host.location)
                }
            }
        }

        var records: [Record] = []
        records.reserveCapacity(claims.count)
        for name in claims.keys.sorted() {
            let all = claims[name]!
            let best = all.map(\.kind).min()!
            let winners = all.filter { $0.kind == best }
            let first = winners[0]
            for other in winners.dropFirst() where other.address != first.address {
                sink?.error(
                    other.location.file, other.location.pointer,
                    "DNS name \(name) is claimed twice as a \(best) with different addresses: \(first.origin) → \(first.address), \(other.origin) → \(other.address)",
                    hint: "rename one of them; a name can have only one address")
            }
            for loser in all where loser.kind != best && loser.address != first.address {
                sink?.warning(
                    loser.location.file, loser.location.pointer,
                    "DNS name \(name): the \(loser.kind) from \(loser.origin) (→ \(loser.address)) is overridden by the \(best) from \(first.origin) (→ \(first.address))",
                    hint: "a \(best) takes precedence over a \(loser.kind)")
            }
            records.append(first)
        }
        self.records = records
    }
}

/// The guest that runs Traefik: `phoenix.ingress_guest`, else the guest named `Traefik-Internal`.
public struct Ingress: Sendable {
    public let guest: Guest?
    public var address: IPv4Address? { guest?.staticAddress }

    public init(estate: Estate) {
        if let id = estate.settings.ingressGuest {
            guest = estate.guest(id)
        } else {
            guest = estate.guests.first { $0.name == "Traefik-Internal" && $0.enabled }
        }
    }
}

/// The guest that runs the NGINX gateway: `phoenix.gateway_guest`, else the guest named `Nginx-Phoenix`.
public struct Gateway: Sendable {
    public let guest: Guest?

    public init(estate: Estate) {
        if let id = estate.settings.gatewayGuest {
            guest = estate.guest(id)
        } else {
            guest = estate.guests.first { $0.name == "Nginx-Phoenix" && $0.enabled }
        }
    }
}
