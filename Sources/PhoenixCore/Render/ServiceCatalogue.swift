/// The services reached through the ingress, from which both Traefik's and NGINX's configurations
/// are generated, so the two can never disagree.
public struct ServiceCatalogue: Sendable {
    /// A Traefik file-provider route to a guest port.
    public struct Route: Sendable, Hashable {
        /// The router and service name (`<service name>`).
        public let name: String
        public let host: DNSName
        public let scheme: TraefikService.Scheme
        public let address: IPv4Address
        public let port: Port
        public let guestID: Int

        public var url: String { "\(scheme.rawValue)://\(address):\(port)" }
    }

    /// Routes to guests, sorted by host.
    public let routes: [Route]
    /// Hosts routed by stack labels (Traefik's Swarm provider), sorted.
    public let stackHosts: [DNSName]
    /// `traefik.<domain>`, routed to Traefik's own dashboard.
    public let dashboardHost: DNSName?

    /// Every host the gateway serves: routes, stack hosts and the dashboard, sorted and unique.
    public var gatewayHosts: [DNSName] {
        Array(Set(routes.map(\.host) + stackHosts + (dashboardHost.map { [$0] } ?? []))).sorted()
    }

    public init(estate: Estate, sink: DiagnosticSink? = nil) {
        let gateway = Gateway(estate: estate).guest
        var stackHosts = Set<DNSName>()
        for stack in estate.stacks {
            for environment in stack.environments { stackHosts.formUnion(environment.routedHosts.map(\.value)) }
            stackHosts.formUnion(stack.proxyHostnames.map(\.value))
        }
        var routes: [Route] = []
        var names = Set<String>()
        for guest in estate.guests where guest.enabled && !guest.isTemplate {
            guard let service = guest.traefikService, let host = service.name.qualified(in: estate.domain),
                let address = guest.staticAddress
            else { continue }
            if stackHosts.contains(host) { continue }  // the stack's own labels route it (as the original did for portainer)
            if guest.id == gateway?.id {
                sink?.warning(
                    service.location.file, service.location.pointer,
                    "\(host) points at the gateway guest \(guest.id) itself: no Traefik route is generated and the name resolves to the gateway, to avoid a gateway → Traefik → gateway loop",
                    hint: "the gateway answers this name directly")
                continue
            }
            guard names.insert(service.name.text).inserted else {
                sink?.error(
                    service.location.file, service.location.pointer,
                    "traefik_service name \"\(service.name)\" is used by more than one guest",
                    hint: "each routed service needs its own name")
                continue
            }
            routes.append(
                Route(name: service.name.text, host: host, scheme: service.scheme, address: address, port: service.port, guestID: guest.id))
        }
        self.routes = routes.sorted { $0.host < $1.host }
        self.stackHosts = stackHosts.sorted()
        self.dashboardHost = DNSName("traefik").flatMap { $0.qualified(in: estate.domain) }
    }
}
