import Foundation
import PhoenixCore
import Yams

/// dnsmasq on the host: `dnsmasq --test` on the staged settings, SIGHUP for records (addn-hosts is
/// re-read), a restart for settings, then a real DNS query for every record.
struct DnsmasqDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        // The records file is typed data phoenix wrote itself; the settings file is what dnsmasq parses.
        guard let settings = staged.first(where: { $0.resource.id == "dns:settings" }) else { return }
        try await run(context.commands.test, config: context.machine.commandPath(settings.path), check: "dnsmasq --test on the staged settings", in: context)
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        try await activateWithCommands(activation, in: context)
    }

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        guard let records = live.first(where: { $0.id == "dns:records" }) else { return }
        func entries(_ text: String) -> [(String, IPv4Address)] {
            text.split(separator: "\n").compactMap { line -> (String, IPv4Address)? in
                let parts = line.split(separator: " ")
                guard parts.count == 2, !line.hasPrefix("#"), let address = IPv4Address(parts[0]) else { return nil }
                return (String(parts[1]), address)
            }
        }
        let expected = entries(records.contents)
        // Names the change removed must no longer answer with their old address.
        let kept = Set(expected.map(\.0))
        let removed = entries((previous["dns:records"] ?? nil) ?? "").filter { !kept.contains($0.0) }
        let dns = context.estate.dns
        guard let server = dns.listenAddresses.first(where: { $0 == IPv4Address(0x7F00_0001) }) ?? dns.listenAddresses.first else {
            throw UnitFailure(check: "DNS queries", output: "dns_server listens on no address")
        }
        try await poll("a DNS query for every record at \(server):\(dns.port)", timeout: context.timeouts.verify) {
            let names = (expected + removed).map(\.0)
            let answers = await offload { Probe.resolve(names, server: server, port: dns.port.number, timeout: 2) }
            let wrong = expected.filter { answers[$0.0] != [$0.1] }
            if let first = wrong.first {
                let got = answers[first.0].map { $0.isEmpty ? "no address" : $0.map(\.description).joined(separator: ", ") } ?? "no answer"
                return "\(wrong.count) of \(expected.count) names answer wrongly; \(first.0) should be \(first.1), got \(got)"
            }
            if let stale = removed.first(where: { answers[$0.0]?.contains($0.1) ?? true }) {
                return "\(stale.0) was removed but still answers \(stale.1)"
            }
            return nil
        }
    }
}

/// NGINX in the gateway guest: `nginx -t` on a harness that includes the staged files, a reload,
/// then the gateway answering on each of its ports.
struct NginxDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        let settings = context.estate.settings.gateway
        func include(_ id: String, live: String) async throws(UnitFailure) -> String? {
            if let staged = staged.first(where: { $0.resource.id == id }) { return context.machine.commandPath(staged.path) }
            let exists: Bool
            do { exists = try await context.machine.read(live) != nil } catch { throw UnitFailure(check: "nginx -t", output: error.description) }
            return exists ? context.machine.commandPath(live) : nil
        }
        let site = try await include("gateway:site", live: settings.siteFile)
        let stream = try await include("gateway:stream", live: settings.streamFile)
        let harnessPath = "/tmp/phoenix-nginx-test-\(getpid()).conf"
        var harness = "# phoenix: nginx -t on the staged gateway files\n"
        harness += "include \(context.machine.commandPath(settings.modulesInclude));\n"
        harness += "pid \(context.machine.commandPath("/tmp/phoenix-nginx-test-\(getpid()).pid"));\n"
        harness += "events { worker_connections 64; }\n"
        if let site { harness += "http {\n    include \(site);\n}\n" }
        if let stream { harness += "stream {\n    include \(stream);\n}\n" }
        do {
            try await context.machine.write(harnessPath, harness, mode: "0600")
        } catch {
            throw UnitFailure(check: "nginx -t", output: error.description)
        }
        do throws(UnitFailure) {
            try await run(context.commands.test, config: context.machine.commandPath(harnessPath), check: "nginx -t on the staged gateway files", in: context)
        } catch {
            try? await context.machine.remove(harnessPath)
            throw error
        }
        try? await context.machine.remove(harnessPath)
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        try await activateWithCommands(activation, in: context)
    }

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        let settings = context.estate.settings.gateway
        guard case let .guest(id) = context.unit.target else { throw UnitFailure(check: "the gateway answering", output: "nginx runs in a guest") }
        let guest = context.estate.guest(id)
        var ports: [(String, IPv4Address, Int)] = []
        var redirect: (IPv4Address, Int)?
        func address(_ listen: ListenAddress, _ key: String) throws(UnitFailure) -> IPv4Address {
            guard let address = reachableAddress(listen, guest: guest) else {
                throw UnitFailure(
                    check: "the gateway answering on its ports",
                    output:
                        "no address to probe for phoenix.gateway.\(key): it has no host and guest \(id) no static address (give one, or set phoenix.services.nginx.verify: false)"
                )
            }
            return address
        }
        if live.contains(where: { $0.id == "gateway:site" }) {
            redirect = (try address(settings.httpListen, "http_listen"), settings.httpListen.port.number)
            ports.append(("HTTPS", try address(settings.httpsListen, "https_listen"), settings.httpsListen.port.number))
        }
        if live.contains(where: { $0.id == "gateway:stream" }) {
            ports.append(("stream", try address(settings.streamListen, "stream_listen"), settings.streamListen.port.number))
        }
        // The HTTP port must answer as the new site does (a redirect to HTTPS), not just accept connections:
        // a server that could not take the new configuration keeps serving the old one, or another program holds the port.
        let name = "phoenix-verify.\(context.estate.domain)"
        let (probed, redirected) = (ports, redirect)
        try await poll("the gateway answering on its ports", timeout: context.timeouts.verify) {
            await offload {
                var problems = probed.filter { !Probe.connects(to: $0.1, port: $0.2, timeout: 1) }.map { "\($0.0) \($0.1):\($0.2) refuses connections" }
                if let (address, port) = redirected {
                    let response = Probe.http(host: address, port: port, path: "/phoenix-verify", hostHeader: name, timeout: 2)
                    let location = response?.headers["location"] ?? ""
                    if response?.status != 301 || !location.hasPrefix("https://\(name)") {
                        problems.append(
                            "HTTP \(address):\(port) answers \(response.map { "\($0.status) \(location)" } ?? "nothing"), not the site's redirect to https://\(name)/"
                        )
                    }
                }
                return problems.isEmpty ? nil : problems.joined(separator: "; ")
            }
        }
    }
}

/// Traefik in the ingress guest: the file provider watches the dynamic file, the static file needs a
/// restart; then Traefik's API must list every router of the dynamic file.
struct TraefikDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        // Traefik has no check command; phoenix parses every staged file as YAML, as Traefik will.
        for file in staged {
            do {
                _ = try Yams.compose(yaml: file.resource.contents)
            } catch {
                throw UnitFailure(check: "YAML check of \(file.resource.path)", output: "\(error)")
            }
        }
        if let staticFile = staged.first(where: { $0.resource.id == "services:traefik-static" }) {
            try await run(context.commands.test, config: context.machine.commandPath(staticFile.path), check: "traefik test", in: context)
        }
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        try await activateWithCommands(activation, in: context)
    }

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        guard case let .guest(id) = context.unit.target else { throw UnitFailure(check: "Traefik's API", output: "Traefik runs in a guest") }
        // Without a dynamic file there are no routers to find, but Traefik's API must still answer.
        var routers: [String] = []
        do {
            if let dynamic = live.first(where: { $0.id == "services:traefik-dynamic" }) {
                let document = try Yams.load(yaml: dynamic.contents) as? [String: Any]
                routers = ((document?["http"] as? [String: Any])?["routers"] as? [String: Any])?.keys.sorted() ?? []
            }
        } catch {
            throw UnitFailure(check: "reading the dynamic file back", output: "\(error)")
        }
        let dashboard = context.estate.settings.traefik.dashboard
        guard let address = reachableAddress(dashboard, guest: context.estate.guest(id)) else {
            throw UnitFailure(
                check: "Traefik's API listing every router",
                output:
                    "no address to probe: the traefik entry point has no host and guest \(id) no static address (give one, or set phoenix.services.traefik.verify: false)"
            )
        }
        let expected = routers
        try await poll("Traefik's API at \(address):\(dashboard.port) listing every router", timeout: context.timeouts.verify) {
            guard let body = await offload({ Probe.httpGet(host: address, port: dashboard.port.number, path: "/api/http/routers", timeout: 2) }) else {
                return "the API does not answer"
            }
            let listed = Set(((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            // Traefik names a file router `<name>@file`, or `<entrypoint>-<name>@file` when it splits one per entry point.
            let missing = expected.filter { router in !listed.contains { $0 == "\(router)@file" || $0.hasSuffix("-\(router)@file") } }
            return missing.isEmpty ? nil : "\(missing.count) of \(expected.count) routers missing, first \(missing[0])"
        }
    }
}

/// The Proxmox firewall: the rule grammar (and `pve-firewall compile`) on the staged files, a
/// restart, then the management endpoint must still answer, or the engine puts the old rules back.
struct FirewallDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        for file in staged {
            let problems = FirewallGrammar.problems(in: file.resource.contents)
            if !problems.isEmpty { throw UnitFailure(check: "the firewall rule grammar of \(file.resource.path)", output: problems.joined(separator: "; ")) }
        }
        try await run(context.commands.test, check: "pve-firewall compile", in: context)
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        try await activateWithCommands(activation, in: context)
    }

    /// The marker whose presence keeps the host's revert armed.
    static let marker = "/run/phoenix-firewall-revert"

    /// Arms the dead-man switch on the host before new rules go live: copies of the previous files
    /// (`.phoenix-prev`) and a detached process that restores them after `firewallRevert` seconds
    /// unless `disarm` removed the marker first.
    func arm(_ changes: [Change], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        do throws(MachineError) {
            for change in changes {
                if let contents = previous[change.id] ?? nil {
                    try await context.machine.write(change.path + ".phoenix-prev", contents, mode: change.resource?.mode ?? "0640")
                } else {
                    try await context.machine.remove(change.path + ".phoenix-prev")
                }
            }
            try await context.machine.write(Self.marker, "armed by phoenix pid \(getpid())\n", mode: "0600")
            let argv =
                [
                    "setsid", "-f", "sh", "-c", RemoteScript.revert, "phoenix-firewall-revert", context.machine.commandPath(Self.marker),
                    String(Int(context.timeouts.firewallRevert.rounded(.up))),
                ]
                + changes.map { context.machine.commandPath($0.path) } + ["--"] + (context.commands.reload ?? [])
            let result = try await context.machine.run(argv, timeout: context.timeouts.command)
            guard result.status == 0 else { throw MachineError(machine: context.machine.name, operation: "setsid -f sh (the revert)", reason: result.excerpt) }
        } catch {
            throw UnitFailure(check: "arming the firewall revert", output: error.description)
        }
    }

    /// Confirms the new rules: the revert finds no marker and does nothing; the copies go.
    func disarm(_ changes: [Change], in context: UnitContext) async {
        try? await context.machine.remove(Self.marker)
        for change in changes { try? await context.machine.remove(change.path + ".phoenix-prev") }
    }

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        let check = "reaching the management endpoint (lockout protection)"
        guard let endpoint = context.estate.settings.managementEndpoint ?? context.estate.hostAddress.map({ "\($0):8006" }) else {
            throw UnitFailure(
                check: check,
                output:
                    "there is no endpoint to probe: set phoenix.management_endpoint or network.interfaces.address (or phoenix.services.pve-firewall.verify: false)"
            )
        }
        let parts = endpoint.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw UnitFailure(check: check, output: "\(endpoint) is not host:port") }
        let host = String(parts[0])
        let dns = context.estate.dns
        let server = dns.enabled ? (dns.listenAddresses.first(where: { $0 == IPv4Address(0x7F00_0001) }) ?? dns.listenAddresses.first) : nil
        try await poll("\(check): \(endpoint)", timeout: context.timeouts.firewallConfirm) {
            let addresses = await offload { Probe.addresses(of: host, dnsServer: server.map { ($0, dns.port.number) }, timeout: 1) }
            guard !addresses.isEmpty else { return "\(host) does not resolve (asked the estate's dnsmasq, then the system's resolver)" }
            return await offload { addresses.contains { Probe.connects(to: $0, port: port, timeout: 1) } }
                ? nil : "\(endpoint) (\(addresses.map(\.description).joined(separator: ", "))) does not accept connections"
        }
    }
}
