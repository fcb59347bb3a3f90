import Foundation

extension EstateLoader {
    /// Reads the optional `phoenix` block of the hypervisor file. Every key has the original's value as default.
    func loadSettings(_ root: JSONCursor, domain: DNSName) -> PhoenixSettings {
        var settings = PhoenixSettings(
            ingressGuest: nil,
            gatewayGuest: nil,
            nodeName: nil,
            stackEnvironment: "production",
            stacksPath: "/quickOS/portainer_stacks",
            traefik: TraefikSettings(
                web: ListenAddress(":80")!, websecure: ListenAddress(":443")!, mesh: ListenAddress(":8443")!,
                dashboard: ListenAddress(":8080")!,
                staticFile: "/etc/traefik/traefik.yml",
                dynamicDirectory: "/etc/traefik/dynamic",
                certFile: "/etc/traefik/certs/traefik.\(domain).crt",
                keyFile: "/etc/traefik/certs/traefik.\(domain).key",
                caFile: "/etc/step-ca/ssl/phoenix_root_ca.crt",
                logLevel: "INFO"
            ),
            gateway: GatewaySettings(
                httpListen: ListenAddress("80")!, httpsListen: ListenAddress("443")!, streamListen: ListenAddress("8443")!,
                certFile: "/etc/nginx/ssl/nginx.\(domain).crt",
                keyFile: "/etc/nginx/ssl/nginx.\(domain).key",
                caFile: "/usr/local/share/ca-certificates/phoenix_root_ca.crt",
                acmeWebroot: "/var/www/html",
                siteFile: "/etc/nginx/conf.d/phoenix-gateway.conf",
                streamFile: "/etc/nginx/stream.d/phoenix-gateway.conf"
            )
        )
        guard let block = root.child("phoenix"), block.expectObject("phoenix") else { return settings }
        block.warnUnknownKeys(
            ["ingress_guest", "gateway_guest", "node_name", "stack_environment", "stacks_path", "traefik", "gateway"],
            in: "phoenix")
        settings.ingressGuest = block.child("ingress_guest")?.idValue
        settings.gatewayGuest = block.child("gateway_guest")?.idValue
        if let cursor = block.child("node_name"), let text = cursor.stringValue {
            if DNSName(text) != nil, !text.contains(".") {
                settings.nodeName = text
            } else {
                cursor.error("\(cursor.describe) is not a Proxmox node name", hint: "a node name is one DNS label, e.g. pve1")
            }
        }
        if let cursor = block.child("stack_environment"), let text = cursor.stringValue {
            if Self.isStackName(text) {
                settings.stackEnvironment = text
            } else {
                cursor.error("\(cursor.describe) is not an environment name")
            }
        }
        if let path = absolutePath(block.child("stacks_path")) { settings.stacksPath = path }

        if let traefik = block.child("traefik"), traefik.expectObject("phoenix.traefik") {
            traefik.warnUnknownKeys(
                ["entrypoints", "static_file", "dynamic_dir", "cert_file", "key_file", "ca_file", "log_level"], in: "phoenix.traefik")
            if let points = traefik.child("entrypoints"), points.expectObject("phoenix.traefik.entrypoints") {
                points.warnUnknownKeys(["web", "websecure", "mesh", "traefik"], in: "phoenix.traefik.entrypoints")
                if let value = listen(points.child("web")) { settings.traefik.web = value }
                if let value = listen(points.child("websecure")) { settings.traefik.websecure = value }
                if let value = listen(points.child("mesh")) { settings.traefik.mesh = value }
                if let value = listen(points.child("traefik")) { settings.traefik.dashboard = value }
            }
            if let path = absolutePath(traefik.child("static_file")) { settings.traefik.staticFile = path }
            if let path = absolutePath(traefik.child("dynamic_dir")) { settings.traefik.dynamicDirectory = path }
            if let path = absolutePath(traefik.child("cert_file")) { settings.traefik.certFile = path }
            if let path = absolutePath(traefik.child("key_file")) { settings.traefik.keyFile = path }
            if let path = absolutePath(traefik.child("ca_file")) { settings.traefik.caFile = path }
            if let cursor = traefik.child("log_level"), let text = cursor.stringValue {
                let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"]
                if levels.contains(text.uppercased()) {
                    settings.traefik.logLevel = text.uppercased()
                } else {
                    cursor.error("\(cursor.describe) is not a Traefik log level", hint: "use one of \(levels.joined(separator: ", "))")
                }
            }
        }

        if let gateway = block.child("gateway"), gateway.expectObject("phoenix.gateway") {
            gateway.warnUnknownKeys(
                ["http_listen", "https_listen", "stream_listen", "cert_file", "key_file", "ca_file", "acme_webroot", "site_file", "stream_file"],
                in: "phoenix.gateway")
            if let value = listen(gateway.child("http_listen")) { settings.gateway.httpListen = value }
            if let value = listen(gateway.child("https_listen")) { settings.gateway.httpsListen = value }
            if let value = listen(gateway.child("stream_listen")) { settings.gateway.streamListen = value }
            if let path = absolutePath(gateway.child("cert_file")) { settings.gateway.certFile = path }
            if let path = absolutePath(gateway.child("key_file")) { settings.gateway.keyFile = path }
            if let path = absolutePath(gateway.child("ca_file")) { settings.gateway.caFile = path }
            if let path = absolutePath(gateway.child("acme_webroot")) { settings.gateway.acmeWebroot = path }
            if let path = absolutePath(gateway.child("site_file")) { settings.gateway.siteFile = path }
            if let path = absolutePath(gateway.child("stream_file")) { settings.gateway.streamFile = path }
        }
        return settings
    }

    private func listen(_ cursor: JSONCursor?) -> ListenAddress? {
        guard let cursor else { return nil }
        let text: String
        switch cursor.value {
        case let .number(number) where number.rounded() == number: text = String(Int(number))
        case let .string(value): text = value
        default:
            cursor.error("expected a listen address such as \":443\" or \"127.0.0.1:443\", found \(cursor.value.typeName)")
            return nil
        }
        guard let address = ListenAddress(text) else {
            cursor.error("\(cursor.describe) is not a listen address", hint: "write \":443\", \"443\" or \"127.0.0.1:443\"")
            return nil
        }
        return address
    }
}
