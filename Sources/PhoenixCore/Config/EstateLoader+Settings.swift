import Foundation

extension EstateLoader {
    /// Reads the optional `phoenix` block of the hypervisor file. Every key has the original's value as default.
    func loadSettings(_ root: JSONCursor, domain: DNSName) -> PhoenixSettings {
        var settings = loadPhoenixBlock(root, domain: domain)
        settings.stepCA = loadStepCA(root, phoenix: root.child("phoenix"), trustSource: settings.trustSource)
        return settings
    }

    private func loadPhoenixBlock(_ root: JSONCursor, domain: DNSName) -> PhoenixSettings {
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
        loadDockerImages(root, into: &settings.docker)
        guard let block = root.child("phoenix"), block.expectObject("phoenix") else { return settings }
        block.warnUnknownKeys(
            [
                "ingress_guest", "gateway_guest", "node_name", "stack_environment", "stacks_path", "traefik", "gateway", "services", "management_endpoint",
                "trust", "docker", "step_ca", "agent",
            ],
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
                [
                    "http_listen", "https_listen", "stream_listen", "cert_file", "key_file", "ca_file", "acme_webroot", "site_file", "stream_file",
                    "modules_include",
                ],
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
            if let cursor = gateway.child("modules_include"), let text = cursor.stringValue {
                // A glob is allowed in the last component (modules-enabled/*.conf).
                if TextRules.isAbsolutePath(text.replacingOccurrences(of: "*", with: "x")) {
                    settings.gateway.modulesInclude = text
                } else {
                    cursor.error("\(cursor.describe) is not an absolute path", hint: "for example /etc/nginx/modules-enabled/*.conf")
                }
            }
        }
        if let agent = block.child("agent"), agent.expectObject("phoenix.agent") {
            agent.warnUnknownKeys(["approve", "self_heal"], in: "phoenix.agent")
            settings.agent.approve = stages(agent.child("approve"))
            settings.agent.selfHeal = stages(agent.child("self_heal"))
        }
        if let services = block.child("services"), services.expectObject("phoenix.services") {
            services.warnUnknownKeys(Set(ServiceCommands.serviceNames), in: "phoenix.services")
            for name in ServiceCommands.serviceNames {
                guard let service = services.child(name), service.expectObject("phoenix.services.\(name)") else { continue }
                service.warnUnknownKeys(["test", "reload", "restart", "verify"], in: "phoenix.services.\(name)")
                var commands = settings.commands(for: name)
                if let verify = service.bool("verify") { commands.verify = verify }
                for (key, keyPath) in [("test", \ServiceCommands.test), ("reload", \ServiceCommands.reload), ("restart", \ServiceCommands.restart)] {
                    guard let cursor = service.child(key) else { continue }
                    guard let items = cursor.expectArray("a command (an array of strings)") else { continue }
                    let argv = items.compactMap(\.stringValue)
                    if argv.isEmpty {
                        commands[keyPath: keyPath] = nil  // [] turns the step off
                    } else if argv.count == items.count, ServiceCommands.isCommand(argv) {
                        commands[keyPath: keyPath] = argv
                    } else {
                        cursor.error(
                            "not a command phoenix can run",
                            hint: "an array such as [\"systemctl\", \"reload\", \"nginx\"]: a program name or absolute path, then single-line arguments")
                    }
                }
                settings.services[name] = commands
            }
        }
        if let trust = block.child("trust"), trust.expectObject("phoenix.trust") {
            trust.warnUnknownKeys(["source", "destination"], in: "phoenix.trust")
            if let path = absolutePath(trust.child("source")) { settings.trustSource = path }
            if let path = absolutePath(trust.child("destination")) { settings.trustDestination = path }
        }
        if let docker = block.child("docker"), docker.expectObject("phoenix.docker") { loadDocker(docker, into: &settings.docker) }
        if let cursor = block.child("management_endpoint"), let text = cursor.stringValue {
            let parts = text.split(separator: ":")
            if parts.count == 2, IPv4Address(parts[0]) != nil || DNSName(String(parts[0])) != nil, let port = Int(parts[1]), Port(port) != nil {
                settings.managementEndpoint = text
            } else {
                cursor.error("\(cursor.describe) is not a host:port", hint: "for example \"10.0.0.1:8006\"")
            }
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

    /// A list of stage names (`["guests", "firewall"]`); an unknown name is an error naming it.
    private func stages(_ cursor: JSONCursor?) -> Set<SyncStage> {
        guard let cursor, let items = cursor.expectArray("a list of stage names") else { return [] }
        var stages = Set<SyncStage>()
        for item in items {
            guard let name = item.stringValue else { continue }
            if let stage = self.stages.first(where: { $0.rawValue == name }) {
                stages.insert(stage)
            } else {
                item.error("\(item.describe) is not a stage", hint: "the stages are \(self.stages.map(\.rawValue).joined(separator: ", "))")
            }
        }
        return stages
    }
}
