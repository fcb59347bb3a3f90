/// What the hypervisor file contributes to the estate.
struct HypervisorPart {
    var domain: DNSName
    var hostAddress: IPv4Address?
    var internalBridge: IPv4Network?
    var firewall: ClusterFirewall
    var dns: DNSSettings
    var settings: PhoenixSettings
    var portainerAdminPassword: Secret?
}

extension EstateLoader {
    static let hypervisorKeys: Set<String> = [
        "$schema", "version", "author", "domain_name", "users", "core_paths", "timezone", "network", "docker", "nfs",
        "samba", "zfs", "proxmox_storage_ids", "mount_point_base", "proxmox_defaults", "tests", "nvidia_driver",
        "behavior", "shared_volumes", "firewall", "portainer_api", "vm_defaults", "dns_server", "step_ca", "phoenix",
    ]

    func loadHypervisor(_ root: JSONCursor) -> HypervisorPart {
        _ = root.expectObject("the hypervisor configuration")
        root.warnUnknownKeys(Self.hypervisorKeys, in: "the hypervisor configuration")

        let fallbackDomain = DNSName("internal.example")!
        var domain = fallbackDomain
        if let cursor = root.childOrReport("domain_name", what: "the internal DNS domain, e.g. \"internal.example.com\"") {
            if let text = cursor.stringValue {
                if let name = DNSName(text), !name.isWildcard {
                    domain = name
                } else {
                    cursor.error("\(cursor.describe) is not a valid DNS domain", hint: "use letters, digits, hyphens and dots only")
                }
            }
        }

        var hostAddress: IPv4Address?
        var internalBridge: IPv4Network?
        if let network = root.child("network"), network.expectObject("network") {
            if let interfaces = network.child("interfaces"), interfaces.expectObject("network.interfaces"),
                let address = interfaces.child("address"), let text = address.stringValue
            {
                if let parsed = InterfaceAddress(text)?.staticAddress {
                    hostAddress = parsed
                } else {
                    address.error("\(address.describe) is not an IPv4 address or CIDR", hint: "write it as 10.0.0.13/24")
                }
            }
            if let bridge = network.child("internal_bridge"), bridge.expectObject("network.internal_bridge"),
                let subnet = bridge.child("subnet"), let text = subnet.stringValue
            {
                if let parsed = IPv4Network(text) {
                    internalBridge = parsed
                } else {
                    subnet.error("\(subnet.describe) is not a CIDR network", hint: "write it as 172.16.100.0/24")
                }
            }
        }

        var password: Secret?
        if let api = root.child("portainer_api"), api.expectObject("portainer_api"), let cursor = api.child("admin_password") {
            if case let .string(text) = cursor.value {
                password = Secret(text)
            } else {
                cursor.error("expected a string, found \(cursor.value.typeName)")
            }
        }

        return HypervisorPart(
            domain: domain,
            hostAddress: hostAddress,
            internalBridge: internalBridge,
            firewall: loadClusterFirewall(root),
            dns: loadDNSSettings(root, hostAddress: hostAddress, internalBridge: internalBridge),
            settings: loadSettings(root, domain: domain),
            portainerAdminPassword: password
        )
    }

    /// The newest files keep the firewall at top level; older ones under `shared_volumes.firewall`.
    private func loadClusterFirewall(_ root: JSONCursor) -> ClusterFirewall {
        let topLevel = root.child("firewall")
        let legacy = root.child("shared_volumes")?.child("firewall")
        if topLevel != nil, let legacy {
            legacy.warning("both firewall and shared_volumes.firewall are set: the top-level firewall block is used")
        }
        guard let block = topLevel ?? legacy, block.expectObject("firewall") else { return .undeclared }
        block.warnUnknownKeys(["enabled", "default_input_policy", "default_output_policy", "global_firewall_rules"], in: "firewall")
        let rules = block.child("global_firewall_rules")?.expectArray("global_firewall_rules")?.compactMap(loadFirewallRule) ?? []
        return ClusterFirewall(
            enabled: block.bool("enabled") ?? true,
            policyIn: policy(block.child("default_input_policy")) ?? .drop,
            policyOut: policy(block.child("default_output_policy")) ?? .accept,
            rules: rules,
            declared: true
        )
    }

    private func policy(_ cursor: JSONCursor?) -> FirewallRule.Action? {
        guard let cursor, let text = cursor.stringValue else { return nil }
        guard let action = FirewallRule.Action(rawValue: text.uppercased()) else {
            cursor.error("\(cursor.describe) is not a firewall policy", hint: "use ACCEPT, DROP or REJECT")
            return nil
        }
        return action
    }

    private func loadDNSSettings(_ root: JSONCursor, hostAddress: IPv4Address?, internalBridge: IPv4Network?) -> DNSSettings {
        var defaults: [IPv4Address] = [IPv4Address("127.0.0.1")!]
        if let hostAddress { defaults.append(hostAddress) }
        if let internalBridge { defaults.append(internalBridge.firstHost) }
        var settings = DNSSettings(
            enabled: false,
            upstreamServers: [],
            listenAddresses: unique(defaults),
            port: Port(53)!,
            recordsFile: "/etc/phoenix/dnsmasq/phoenix.hosts",
            configFile: "/etc/dnsmasq.d/00-phoenix.conf"
        )
        guard let block = root.child("dns_server"), block.expectObject("dns_server") else { return settings }
        block.warnUnknownKeys(
            ["enabled", "upstream_servers", "authoritative_zones", "listen_addresses", "port", "records_file", "config_file"],
            in: "dns_server")
        settings.enabled = block.bool("enabled") ?? false
        settings.upstreamServers = addresses(block.child("upstream_servers"), what: "dns_server.upstream_servers")
        if let listen = block.child("listen_addresses") {
            settings.listenAddresses = unique(addresses(listen, what: "dns_server.listen_addresses"))
        }
        if let cursor = block.child("port"), let number = cursor.intValue {
            if let port = Port(number) { settings.port = port } else { cursor.error("\(number) is not a port (1-65535)") }
        }
        if let path = absolutePath(block.child("records_file")) { settings.recordsFile = path }
        if let path = absolutePath(block.child("config_file")) { settings.configFile = path }
        return settings
    }

    func addresses(_ cursor: JSONCursor?, what: String) -> [IPv4Address] {
        guard let cursor, let items = cursor.expectArray(what) else { return [] }
        return items.compactMap { item in
            guard let text = item.stringValue else { return nil }
            guard let address = IPv4Address(text) else {
                item.error("\(item.describe) is not an IPv4 address")
                return nil
            }
            return address
        }
    }

    func absolutePath(_ cursor: JSONCursor?) -> String? {
        guard let cursor, let text = cursor.stringValue else { return nil }
        guard TextRules.isAbsolutePath(text) else {
            cursor.error("\(cursor.describe) is not an absolute path", hint: "paths start with / and use letters, digits and / . _ - + @ only")
            return nil
        }
        return text
    }

    private func unique(_ addresses: [IPv4Address]) -> [IPv4Address] {
        var seen = Set<IPv4Address>()
        return addresses.filter { seen.insert($0).inserted }
    }
}
