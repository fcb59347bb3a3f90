import PhoenixCore

/// Builds small configurations inline for tests.
enum TestEstate {
    static let hypervisor = """
        {"domain_name": "lab.test", "network": {"interfaces": {"address": "10.0.0.2/24"}},
         "dns_server": {"enabled": true, "upstream_servers": ["9.9.9.9"]},
         "portainer_api": {"admin_password": "hunter2-Very-Secret"},
         "firewall": {"enabled": true, "default_input_policy": "DROP", "default_output_policy": "ACCEPT", "global_firewall_rules": []}}
        """

    static func sources(
        hypervisor: String = hypervisor, lxc: String = #"{"lxc_configs": {}}"#, vm: String = #"{"vms": []}"#,
        stacks: String? = nil, manifest: String? = nil, compose: [String: String] = [:]
    ) -> ConfigSources {
        func file(_ name: String, _ text: String) -> ConfigSources.File { ConfigSources.File(name: name, bytes: Array(text.utf8)) }
        return ConfigSources(
            hypervisor: file("hv.json", hypervisor), lxc: file("lxc.json", lxc), vm: file("vm.json", vm),
            stacksConfig: stacks.map { file("stacks.json", $0) }, certificateManifest: manifest.map { file("certs.json", $0) },
            stackDirectories: compose.keys.sorted().map {
                ConfigSources.StackDirectory(name: $0, compose: file("stacks/\($0)/docker-compose.yml", compose[$0]!), manifest: nil)
            })
    }

    static func load(
        hypervisor: String = hypervisor, lxc: String = #"{"lxc_configs": {}}"#, vm: String = #"{"vms": []}"#,
        stacks: String? = nil, manifest: String? = nil, compose: [String: String] = [:]
    ) -> EstateLoader.Result {
        EstateLoader().load(sources(hypervisor: hypervisor, lxc: lxc, vm: vm, stacks: stacks, manifest: manifest, compose: compose))
    }

    /// An LXC entry: `"<id>": {...}`.
    static func container(_ id: Int, _ name: String, ip: String, extra: String = "") -> String {
        #""\#(id)": {"name": "\#(name)", "network_config": {"ip": "\#(ip)"}\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    static func containers(_ entries: String...) -> String { #"{"lxc_configs": {"# + entries.joined(separator: ",") + "}}" }
}

extension ValidationReport {
    func hasError(_ file: String, _ pointer: String, containing text: String) -> Bool {
        errors.contains { $0.file == file && $0.pointer.description == pointer && $0.message.contains(text) }
    }
    var summary: String { (errors + warnings).map { "\($0.severity) \($0.file)#\($0.pointer) \($0.message)" }.joined(separator: "\n") }
}
