import Yams

/// Renders Traefik's static configuration and its file-provider dynamic configuration into the
/// ingress guest, from the same ``ServiceCatalogue`` the gateway uses.
struct TraefikRenderer {
    let estate: Estate

    static let dashboardRouter = "traefik-dashboard"
    static let transport = "internal-ca"
    static let meshOptions = "mesh-mtls"

    func render(into output: inout RenderOutput) {
        guard let ingress = Ingress(estate: estate).guest else {
            output.notes.append("services: no ingress guest (a guest named Traefik-Internal, or phoenix.ingress_guest), nothing to render")
            return
        }
        let settings = estate.settings.traefik
        output.files.append(
            RenderedFile(target: .guest(ingress.id), path: settings.staticFile, contents: YAML.document(staticConfiguration(), comment: generatedHeader)))
        output.files.append(
            RenderedFile(
                target: .guest(ingress.id), path: settings.dynamicDirectory + "/phoenix.yml",
                contents: YAML.document(dynamicConfiguration(), comment: generatedHeader)))
    }

    func staticConfiguration() -> Node {
        let settings = estate.settings.traefik
        var providers: [(String, Node)] = [
            ("file", YAML.map([("directory", YAML.string(settings.dynamicDirectory)), ("watch", YAML.bool(true))]))
        ]
        if let manager = estate.guests.first(where: { $0.swarmRole == "manager" && $0.enabled }), let address = manager.staticAddress {
            providers.append(
                (
                    "swarm",
                    YAML.map([
                        ("endpoint", YAML.string("tcp://\(address):2376")),
                        ("exposedByDefault", YAML.bool(false)),
                        ("network", YAML.string("traefik-public")),
                        (
                            "tls",
                            YAML.map([
                                ("ca", YAML.string("/etc/traefik/certs/ca.pem")),
                                ("cert", YAML.string("/etc/traefik/certs/client-cert.pem")),
                                ("key", YAML.string("/etc/traefik/certs/client-key.pem")),
                            ])
                        ),
                    ])
                ))
        }
        return YAML.map([
            (
                "entryPoints",
                YAML.map([
                    ("web", YAML.map([("address", YAML.string(settings.web.traefikForm))])),
                    (
                        "websecure",
                        YAML.map([
                            ("address", YAML.string(settings.websecure.traefikForm)),
                            ("http", YAML.map([("tls", YAML.map([]))])),
                        ])
                    ),
                    (
                        "mesh",
                        YAML.map([
                            ("address", YAML.string(settings.mesh.traefikForm)),
                            ("http", YAML.map([("tls", YAML.map([("options", YAML.string("\(Self.meshOptions)@file"))]))])),
                        ])
                    ),
                    ("traefik", YAML.map([("address", YAML.string(settings.dashboard.traefikForm))])),
                ])
            ),
            ("api", YAML.map([("dashboard", YAML.bool(true)), ("insecure", YAML.bool(true))])),
            ("ping", YAML.map([("entryPoint", YAML.string("traefik"))])),
            ("log", YAML.map([("level", YAML.string(settings.logLevel)), ("noColor", YAML.bool(true))])),
            ("providers", YAML.map(providers)),
        ])
    }

    func dynamicConfiguration() -> Node {
        let settings = estate.settings.traefik
        let catalogue = ServiceCatalogue(estate: estate)
        var routers: [(String, Node)] = []
        var services: [(String, Node)] = []
        for route in catalogue.routes {
            routers.append(
                (
                    route.name,
                    YAML.map([
                        ("rule", YAML.string("Host(`\(route.host)`)")),
                        ("entryPoints", YAML.strings(["websecure", "mesh"])),
                        ("service", YAML.string(route.name)),
                        ("tls", YAML.map([])),
                    ])
                ))
            var balancer: [(String, Node)] = [
                ("servers", YAML.list([YAML.map([("url", YAML.string(route.url))])])),
                ("passHostHeader", YAML.bool(true)),
            ]
            if route.scheme == .https { balancer.append(("serversTransport", YAML.string(Self.transport))) }
            services.append((route.name, YAML.map([("loadBalancer", YAML.map(balancer))])))
        }
        if let dashboard = catalogue.dashboardHost {
            routers.append(
                (
                    Self.dashboardRouter,
                    YAML.map([
                        ("rule", YAML.string("Host(`\(dashboard)`)")),
                        ("entryPoints", YAML.strings(["websecure"])),
                        ("service", YAML.string("api@internal")),
                        ("tls", YAML.map([])),
                    ])
                ))
        }
        var http: [(String, Node)] = [("routers", YAML.map(routers))]
        if !services.isEmpty { http.append(("services", YAML.map(services))) }
        http.append(("serversTransports", YAML.map([(Self.transport, YAML.map([("rootCAs", YAML.strings([settings.caFile]))]))])))
        let certificate = YAML.map([("certFile", YAML.string(settings.certFile)), ("keyFile", YAML.string(settings.keyFile))])
        return YAML.map([
            ("http", YAML.map(http)),
            (
                "tls",
                YAML.map([
                    ("certificates", YAML.list([certificate])),
                    ("stores", YAML.map([("default", YAML.map([("defaultCertificate", certificate)]))])),
                    (
                        "options",
                        YAML.map([
                            (
                                Self.meshOptions,
                                YAML.map([
                                    (
                                        "clientAuth",
                                        YAML.map([
                                            ("caFiles", YAML.strings([settings.caFile])),
                                            ("clientAuthType", YAML.string("RequireAndVerifyClientCert")),
                                        ])
                                    )
                                ])
                            )
                        ])
                    ),
                ])
            ),
        ])
    }
}
