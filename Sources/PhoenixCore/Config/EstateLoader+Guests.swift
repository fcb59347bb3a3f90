extension EstateLoader {
    /// Keys of an LXC entry that Phoenix reads or knows to belong to guest creation.
    static let containerKeys: Set<String> = [
        "name", "network_config", "secondary_network_config", "mac_address", "traefik_service", "firewall",
        "public_interface", "dependencies", "clone_from_ctid", "boot_order", "boot_delay", "start_at_boot",
        "trigger_sync_on_completion", "is_template", "template", "template_file", "template_snapshot_name",
        "enable_lifecycle_snapshots", "memory_mb", "swap_mb", "cores", "storage_pool", "storage_size_gb", "unprivileged",
        "gpu_assignment", "features", "application_script", "bootstrap_ca_url", "pct_options", "lxc_options", "id_maps",
        "mount_points", "zfs_volumes", "apparmor_profile", "apparmor_manages_nesting", "portainer_role",
        "vllm_engine_config", "tests", "health_check", "health_checks", "ports", "enabled", "tags", "description",
    ]

    /// Keys of a VM entry that Phoenix reads or knows to belong to guest creation.
    static let machineKeys: Set<String> = [
        "vmid", "name", "clone_from_vmid", "is_template", "template_image", "template_snapshot_name", "snapshots",
        "dependencies", "cores", "memory_mb", "disk_size_gb", "start_at_boot", "boot_order", "boot_delay", "features",
        "user_config", "network_config", "volumes", "portainer_role", "swarm_role", "node_labels",
        "portainer_agent_hostname", "portainer_environment_name", "traefik_service", "docker_stacks",
        "trigger_sync_on_completion", "firewall", "storage_pool", "enabled", "tags", "description",
    ]

    static let validIDs = 100...999_999_999

    func loadContainers(_ root: JSONCursor, domain: DNSName) -> [Guest] {
        guard root.expectObject("the LXC configuration") else { return [] }
        root.warnUnknownKeys(["$schema", "nvidia_driver_version", "nvidia_repo_url", "nvidia_runfile_url", "lxc_configs"], in: "the LXC configuration")
        guard let configs = root.childOrReport("lxc_configs", what: "an object of containers keyed by CTID"),
            configs.expectObject("lxc_configs")
        else { return [] }
        return Concurrent.compactMap(configs.members) { key, entry in
            guard let id = Int(key), key.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), Self.validIDs.contains(id) else {
                entry.error("\"\(key)\" is not a valid CTID", hint: "Proxmox guest ids are whole numbers from 100 to 999999999")
                return nil
            }
            guard entry.expectObject("container \(key)") else { return nil }
            entry.warnUnknownKeys(Self.containerKeys, in: "container \(key)")
            var guest = baseGuest(entry, id: id, kind: .lxc)
            guest.cloneFrom = entry.child("clone_from_ctid")?.idValue
            if let network = entry.childOrReport("network_config", what: "the container's first network interface") {
                guest.primaryAddress = interfaceAddress(network)
            }
            if let network = entry.child("secondary_network_config") {
                guest.secondaryAddress = interfaceAddress(network)
                if case .object = network.value { guest.hardware.secondNetwork = loadInterface(network) }
            }
            if let cursor = entry.child("mac_address"), let text = cursor.stringValue {
                if let mac = Self.macAddress(text) {
                    if guest.hardware.network == nil { guest.hardware.network = NetworkInterface() }
                    if guest.hardware.network?.hwaddr == nil { guest.hardware.network?.hwaddr = mac }
                } else {
                    cursor.error("\(cursor.describe) is not a MAC address", hint: "six hex pairs separated by ':'")
                }
            }
            if let interface = entry.child("public_interface"), interface.expectObject("public_interface") {
                guest.publicInterface = interface.bool("enabled") ?? false
            }
            return guest
        }
    }

    /// `vm_defaults`: the hardware a VM gets for every key its entry does not set.
    func loadVMDefaults(_ root: JSONCursor) -> GuestHardware {
        guard let defaults = root.child("vm_defaults"), defaults.expectObject("vm_defaults") else { return GuestHardware() }
        defaults.warnUnknownKeys(["template", "cores", "memory_mb", "disk_size_gb", "storage_pool", "network_bridge", "ubuntu_release"], in: "vm_defaults")
        var hardware = loadHardware(defaults, kind: .vm)
        if let cursor = defaults.child("network_bridge"), let text = cursor.stringValue {
            if TextRules.isInterfaceName(text) {
                hardware.network = NetworkInterface(bridge: text)
            } else {
                cursor.error("\(cursor.describe) is not a bridge name")
            }
        }
        for key in ["template", "ubuntu_release"] {
            defaults.child(key)?.warning(
                "phoenix does not download VM images: vm_defaults.\(key) is not used",
                hint: "a VM is cloned from the template VM its clone_from_vmid names, or created empty")
        }
        return hardware
    }

    func loadVirtualMachines(_ root: JSONCursor, domain: DNSName) -> [Guest] {
        guard root.expectObject("the VM configuration") else { return [] }
        root.warnUnknownKeys(["$schema", "vm_defaults", "vms"], in: "the VM configuration")
        let defaults = loadVMDefaults(root)
        guard let list = root.childOrReport("vms", what: "an array of VMs"), let entries = list.expectArray("vms") else { return [] }
        return Concurrent.compactMap(entries) { entry in
            guard entry.expectObject("a VM") else { return nil }
            guard let idCursor = entry.childOrReport("vmid", what: "the VM's id"), let id = idCursor.idValue else { return nil }
            guard Self.validIDs.contains(id) else {
                idCursor.error("\(id) is not a valid VMID", hint: "Proxmox guest ids are whole numbers from 100 to 999999999")
                return nil
            }
            entry.warnUnknownKeys(Self.machineKeys, in: "VM \(id)")
            var guest = baseGuest(entry, id: id, kind: .vm)
            guest.cloneFrom = entry.child("clone_from_vmid")?.idValue
            guest.hardware.fill(from: defaults)
            if guest.cloneFrom != nil {
                for key in ["disk_size_gb", "storage_pool"] {
                    entry.child(key)?.warning(
                        "a cloned VM keeps its template's disk: phoenix does not resize or move it, so \(key) is not applied",
                        hint: "set the disk on the template VM")
                }
            }
            if let network = entry.child("network_config") {
                guest.primaryAddress = interfaceAddress(network)
            }
            guest.swarmRole = oneOf(entry.child("swarm_role"), ["manager", "worker"])
            guest.portainerRole = oneOf(entry.child("portainer_role"), ["primary", "agent", "none"])
            if let cursor = entry.child("portainer_agent_hostname"), let text = cursor.stringValue, !text.isEmpty {
                if let name = DNSName(text), !name.isWildcard {
                    guest.portainerAgentHostname = name
                } else {
                    cursor.error("\(cursor.describe) is not a valid host name", hint: "use letters, digits, hyphens and dots")
                }
            }
            if let cursor = entry.child("portainer_environment_name"), let text = cursor.stringValue {
                if DNSName(text) != nil || TextRules.isVariableName(text) {
                    guest.portainerEnvironmentName = text
                } else {
                    cursor.error("\(cursor.describe) is not a valid environment name")
                }
            }
            if let stacks = entry.child("docker_stacks")?.expectArray("docker_stacks") {
                guest.dockerStacks = stacks.compactMap { item in
                    guard let name = item.stringValue else { return nil }
                    guard Self.isStackName(name) else {
                        item.error("\(item.describe) is not a stack name", hint: "stack names use letters, digits, '_' and '-'")
                        return nil
                    }
                    return Located(name, item.location)
                }
            }
            if let labels = entry.child("node_labels")?.expectArray("node_labels") {
                for label in labels {
                    guard let text = label.stringValue else { continue }
                    let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    if parts.count != 2 || !TextRules.isLabelKey(String(parts[0])) || !TextRules.isSingleLine(text) {
                        label.error("\(label.describe) is not a node label", hint: "write key=value; the key uses letters, digits, '.', '-', '_', '/'")
                    } else if guest.nodeLabels[String(parts[0])] != nil {
                        label.error("node label \(parts[0]) is set twice", hint: "keep one value per key")
                    } else {
                        guest.nodeLabels[String(parts[0])] = String(parts[1])
                    }
                }
            }
            return guest
        }
    }

    static func isStackName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63
            && text.utf8.allSatisfy {
                TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    /// The keys LXCs and VMs share.
    private func baseGuest(_ entry: JSONCursor, id: Int, kind: GuestKind) -> Guest {
        var name = ""
        var hostname: DNSName?
        if let cursor = entry.childOrReport("name", what: "the guest's host name"), let text = cursor.stringValue {
            name = text
            if let parsed = DNSName(text), !parsed.isWildcard {
                hostname = parsed
            } else {
                cursor.error(
                    "\(cursor.describe) is not a valid host name",
                    hint: "a guest name becomes a host name and a DNS record: use letters, digits, hyphens and dots only")
            }
        }
        var guest = Guest(
            id: id, kind: kind, name: name, hostname: hostname, primaryAddress: nil, secondaryAddress: nil,
            isTemplate: entry.bool("is_template") ?? false,
            enabled: entry.bool("enabled") ?? true,
            bootOrder: entry.int("boot_order"),
            startAtBoot: entry.bool("start_at_boot") ?? false,
            dependencies: [], cloneFrom: nil, traefikService: nil, firewall: nil, publicInterface: false,
            swarmRole: nil, portainerRole: nil, portainerAgentHostname: nil, portainerEnvironmentName: nil,
            dockerStacks: [], triggerSyncOnCompletion: entry.bool("trigger_sync_on_completion") ?? false,
            source: entry.location
        )
        if let list = entry.child("dependencies")?.expectArray("dependencies") {
            guest.dependencies = list.compactMap(loadDependency)
        }
        guest.hardware = loadHardware(entry, kind: kind)
        if let service = entry.child("traefik_service") {
            guest.traefikService = loadTraefikService(service)
        }
        if let firewall = entry.child("firewall"), firewall.expectObject("firewall") {
            firewall.warnUnknownKeys(["enabled", "rules"], in: "the guest firewall")
            guest.firewall = GuestFirewall(
                enabled: firewall.bool("enabled") ?? false,
                rules: firewall.child("rules")?.expectArray("rules")?.compactMap(loadFirewallRule) ?? []
            )
        }
        return guest
    }

    /// Cores, memory, storage, template and the first interface: what creation and converge set.
    func loadHardware(_ entry: JSONCursor, kind: GuestKind) -> GuestHardware {
        var hardware = GuestHardware()
        func number(_ key: String, _ range: ClosedRange<Int>, _ what: String) -> Int? {
            guard let cursor = entry.child(key), let value = cursor.intValue else { return nil }
            guard range.contains(value) else {
                cursor.error("\(value) is not a valid \(what)", hint: "use \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return value
        }
        hardware.cores = number("cores", 1...1024, "number of cores")
        hardware.memoryMB = number("memory_mb", 16...16_777_216, "memory size in MB")
        hardware.swapMB = number("swap_mb", 0...16_777_216, "swap size in MB")
        hardware.diskGB = number(kind == .lxc ? "storage_size_gb" : "disk_size_gb", 1...1_048_576, "disk size in GB")
        if let cursor = entry.child("storage_pool"), let text = cursor.stringValue {
            if Self.isProxmoxID(text) { hardware.storagePool = text } else { cursor.error("\(cursor.describe) is not a storage name") }
        }
        if kind == .lxc, let cursor = entry.child("template"), let text = cursor.stringValue {
            // The OS template a container is created from: a volume id (<storage>:vztmpl/<file>) or,
            // as the original writes it, an absolute path.
            let parts = text.split(separator: ":", maxSplits: 1)
            if TextRules.isAbsolutePath(text) || (parts.count == 2 && Self.isProxmoxID(String(parts[0])) && TextRules.isAbsolutePath("/" + parts[1])) {
                hardware.templateFile = text
            } else {
                cursor.error(
                    "\(cursor.describe) is not an OS template",
                    hint: "a volume such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst, or an absolute path")
            }
        }
        if let cursor = entry.child("tags") {
            hardware.tags = loadTags(cursor)
        }
        if let network = entry.child("network_config"), case .object = network.value {
            hardware.network = loadInterface(network)
        }
        return hardware
    }

    /// One interface of `network_config` or `secondary_network_config`.
    private func loadInterface(_ network: JSONCursor) -> NetworkInterface {
        var interface = NetworkInterface()
        if let cursor = network.child("name"), let text = cursor.stringValue {
            if TextRules.isInterfaceName(text) { interface.name = text } else { cursor.error("\(cursor.describe) is not an interface name") }
        }
        if let cursor = network.child("bridge"), let text = cursor.stringValue {
            if TextRules.isInterfaceName(text) { interface.bridge = text } else { cursor.error("\(cursor.describe) is not a bridge name") }
        }
        if let cursor = network.child("gw"), let text = cursor.stringValue {
            if let address = IPv4Address(text) { interface.gateway = address } else { cursor.error("\(cursor.describe) is not a gateway address") }
        }
        if let cursor = network.child("hwaddr"), let text = cursor.stringValue {
            if let mac = Self.macAddress(text) {
                interface.hwaddr = mac
            } else {
                cursor.error("\(cursor.describe) is not a MAC address", hint: "six hex pairs separated by ':'")
            }
        }
        interface.ip = network.child("ip").flatMap { $0.stringValue.flatMap(InterfaceAddress.init) }
        return interface
    }

    /// A MAC address as Proxmox writes it (upper case), or nil.
    static func macAddress(_ text: String) -> String? {
        let octets = text.split(separator: ":", omittingEmptySubsequences: false)
        guard octets.count == 6, octets.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else { return nil }
        return text.uppercased()
    }

    /// `tags`: a list of strings or one string; each a Proxmox tag (a letter, digit or `_`, then
    /// letters, digits, `_`, `-`, `+` and `.`).
    private func loadTags(_ cursor: JSONCursor) -> [String] {
        var words: [(String, JSONCursor)] = []
        switch cursor.value {
        case let .string(text):
            words = text.split(whereSeparator: { $0 == ";" || $0 == "," || $0 == " " }).map { (String($0), cursor) }
        case .array:
            for item in cursor.elements { if let text = item.stringValue { words.append((text, item)) } }
        default:
            cursor.error("tags must be a list of strings or one string, found \(cursor.value.typeName)", hint: "write [\"web\", \"prod\"] or \"web;prod\"")
        }
        var tags: [String] = []
        for (word, place) in words {
            let tag = word.lowercased()
            if Self.isProxmoxTag(tag) {
                if !tags.contains(tag) { tags.append(tag) }
            } else {
                place.error("\"\(TextRules.printable(word))\" is not a Proxmox tag", hint: "letters, digits, '_', '-', '+' and '.'")
            }
        }
        return tags
    }

    static func isProxmoxTag(_ text: String) -> Bool {
        guard let first = text.utf8.first, TextRules.isLetter(first) || TextRules.isDigit(first) || first == UInt8(ascii: "_"), text.utf8.count <= 64 else {
            return false
        }
        return text.utf8.allSatisfy { TextRules.isLetter($0) || TextRules.isDigit($0) || "_-+.".utf8.contains($0) }
    }

    /// A Proxmox storage or similar id: a letter, then letters, digits, '-', '_' and '.'.
    static func isProxmoxID(_ text: String) -> Bool {
        guard let first = text.utf8.first, TextRules.isLetter(first), text.utf8.count <= 64 else { return false }
        return text.utf8.allSatisfy {
            TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    private func interfaceAddress(_ network: JSONCursor) -> InterfaceAddress? {
        guard network.expectObject("network_config") else { return nil }
        guard let cursor = network.child("ip") else { return nil }
        guard let text = cursor.stringValue else { return nil }
        guard let address = InterfaceAddress(text) else {
            cursor.error("\(cursor.describe) is not an address", hint: "write \"dhcp\" or an IPv4 address with its prefix, e.g. \"10.0.0.141/24\"")
            return nil
        }
        return address
    }

    private func loadTraefikService(_ cursor: JSONCursor) -> TraefikService? {
        guard cursor.expectObject("traefik_service") else { return nil }
        cursor.warnUnknownKeys(["name", "port", "scheme"], in: "traefik_service")
        guard let nameCursor = cursor.childOrReport("name", what: "the service name, prefixed to the domain"),
            let text = nameCursor.stringValue
        else { return nil }
        guard let name = DNSName(text), !name.isWildcard else {
            nameCursor.error("\(nameCursor.describe) is not a valid service name", hint: "it becomes <name>.<domain_name>: use letters, digits and hyphens")
            return nil
        }
        guard let portCursor = cursor.childOrReport("port", what: "the port the service listens on"), let number = portCursor.intValue
        else { return nil }
        guard let port = Port(number) else {
            portCursor.error("\(number) is not a port (1-65535)")
            return nil
        }
        var scheme = TraefikService.Scheme.http
        if let schemeCursor = cursor.child("scheme"), let text = schemeCursor.stringValue {
            if let parsed = TraefikService.Scheme(rawValue: text.lowercased()) {
                scheme = parsed
            } else {
                schemeCursor.error("\(schemeCursor.describe) is not a backend scheme", hint: "use http or https")
            }
        }
        return TraefikService(name: name, port: port, scheme: scheme, location: cursor.location)
    }

    private func oneOf(_ cursor: JSONCursor?, _ allowed: [String]) -> String? {
        guard let cursor, let text = cursor.stringValue else { return nil }
        guard allowed.contains(text) else {
            cursor.error("\(cursor.describe) is not one of \(allowed.joined(separator: ", "))")
            return nil
        }
        return text
    }
}
