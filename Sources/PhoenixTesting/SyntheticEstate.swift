import PhoenixCore

/// Generates a large, valid estate in the original's file format, for the benchmark and the
/// linear-growth test: `guests` guests (a tenth of them VMs), `rules` firewall rules, `stacks` stacks
/// and `certificates` certificate entries.
public struct SyntheticEstate: Sendable {
    public let guests: Int
    public let rules: Int
    public let stacks: Int
    public let certificates: Int

    public init(guests: Int, rules: Int, stacks: Int, certificates: Int) {
        self.guests = guests
        self.rules = rules
        self.stacks = stacks
        self.certificates = certificates
    }

    static let firstID = 200

    func address(_ index: Int) -> String { "10.\(1 + index >> 16).\(index >> 8 & 255).\(index & 255)" }
    func id(_ index: Int) -> Int { Self.firstID + index }

    public func sources() -> ConfigSources {
        let clusterRules = min(rules, 100)
        let perGuest = guests > 0 ? (rules - clusterRules) / guests : 0
        var extra = guests > 0 ? (rules - clusterRules) % guests : 0

        var hypervisor = """
            {"domain_name": "bench.example.net", "network": {"interfaces": {"address": "192.168.0.2/24"}},
             "dns_server": {"enabled": true, "upstream_servers": ["9.9.9.9"]},
             "portainer_api": {"admin_password": "bench-secret"},
             "firewall": {"enabled": true, "default_input_policy": "DROP", "default_output_policy": "ACCEPT", "global_firewall_rules": [
            """
        hypervisor += (0..<clusterRules).map { rule($0) }.joined(separator: ",")
        hypervisor += "]}}"

        let vmCount = guests / 10
        let lxcCount = guests - vmCount
        var lxc = "{\"lxc_configs\": {"
        var entries: [String] = []
        entries.reserveCapacity(lxcCount)
        for index in 0..<lxcCount {
            let guestID = id(index)
            var count = perGuest
            if extra > 0 { count += 1; extra -= 1 }
            entries.append(guest(index: index, id: guestID, kind: "lxc", rules: count))
        }
        lxc += entries.joined(separator: ",") + "}}"

        var vms: [String] = []
        for offset in 0..<vmCount {
            let index = lxcCount + offset
            var count = perGuest
            if extra > 0 { count += 1; extra -= 1 }
            vms.append(guest(index: index, id: id(index), kind: "vm", rules: count, stackIndex: offset < stacks ? offset : nil))
        }
        let vm = "{\"vms\": [" + vms.joined(separator: ",") + "]}"

        var stackConfig: [String] = []
        var directories: [ConfigSources.StackDirectory] = []
        for index in 0..<stacks {
            let name = "stack\(index)"
            stackConfig.append(
                """
                "\(name)": {"environments": {
                  "production": {"variables": [{"name": "PORT", "value": "\(8000 + index % 1000)"}, {"name": "TAG", "value": "v\(index)"}],
                    "services": {"web": {"traefik_labels": ["traefik.enable=true", "traefik.http.routers.\(name).rule=Host(`\(name).bench.example.net`)"]}}},
                  "testing": {"variables": [{"name": "PORT", "value": "9\(index % 1000)"}]}}}
                """)
            let compose = "services:\n  web:\n    image: example/web:${TAG:-latest}\n    environment:\n      PORT: ${PORT}\n    deploy:\n      replicas: 1\n"
            directories.append(
                ConfigSources.StackDirectory(
                    name: name, compose: ConfigSources.File(name: "stacks/\(name)/docker-compose.yml", bytes: Array(compose.utf8)), manifest: nil))
        }
        let stacksJSON = "{\"docker_stacks\": {" + stackConfig.joined(separator: ",") + "}}"

        var manifest: [String] = []
        for index in 0..<certificates {
            let target = guests > 0 ? index % guests : 0
            manifest.append(
                """
                {"common_name": "cert\(index).bench.example.net", "sans": ["cert\(index).bench.example.net", "\(address(target))"],
                 "guest_id": \(id(target)), "cert_path": "/srv/certs/\(index).crt", "key_path": "/srv/certs/\(index).key", "owner": "root:root"}
                """)
        }
        let manifestJSON = "[" + manifest.joined(separator: ",") + "]"

        func file(_ name: String, _ text: String) -> ConfigSources.File { ConfigSources.File(name: name, bytes: Array(text.utf8)) }
        return ConfigSources(
            hypervisor: file("etc/phoenix_hypervisor_config.json", hypervisor),
            lxc: file("etc/phoenix_lxc_configs.json", lxc),
            vm: file("etc/phoenix_vm_configs.json", vm),
            stacksConfig: file("etc/phoenix_stacks_config.json", stacksJSON),
            certificateManifest: file("etc/certificate-manifest.json", manifestJSON),
            stackDirectories: directories)
    }

    private func rule(_ index: Int) -> String {
        "{\"type\": \"in\", \"action\": \"ACCEPT\", \"proto\": \"tcp\", \"port\": \"\(1000 + index % 60000)\", \"source\": \"10.0.0.0/8\", \"comment\": \"rule \(index)\"}"
    }

    private func guest(index: Int, id: Int, kind: String, rules: Int, stackIndex: Int? = nil) -> String {
        let name: String
        switch index {
        case 0: name = "Traefik-Internal"
        case 1: name = "Nginx-Phoenix"
        default: name = "guest-\(id)"
        }
        var fields: [String] = []
        fields.append(kind == "vm" ? "\"vmid\": \(id), \"name\": \"\(name)\"" : "\"name\": \"\(name)\"")
        fields.append("\"network_config\": {\"ip\": \"\(address(index))/8\"}")
        fields.append("\"boot_order\": \(index % 7)")
        if index % 4 == 2 { fields.append("\"traefik_service\": {\"name\": \"svc\(id)\", \"port\": 8080}") }
        if index > 2 && index % 3 == 0 {
            fields.append("\"dependencies\": [\"\(id - 1)\", {\"id\": \"\(id - 2)\", \"optional\": true}]")
        }
        if let stackIndex { fields.append("\"docker_stacks\": [\"stack\(stackIndex)\"]") }
        if rules > 0 {
            fields.append("\"firewall\": {\"enabled\": true, \"rules\": [" + (0..<rules).map { self.rule(index * 31 + $0) }.joined(separator: ",") + "]}")
        }
        let body = "{" + fields.joined(separator: ", ") + "}"
        return kind == "vm" ? body : "\"\(id)\": \(body)"
    }
}
