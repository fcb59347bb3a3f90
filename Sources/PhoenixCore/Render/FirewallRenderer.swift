/// Renders the Proxmox firewall: `cluster.fw`, the node's `host.fw`, and `<vmid>.fw` for every guest
/// that declares a firewall, in rule syntax current pve-firewall accepts.
struct FirewallRenderer {
    let estate: Estate
    let nodeName: String

    func render(into output: inout RenderOutput) {
        let cluster = estate.firewall
        if cluster.declared {
            var text = "# \(generatedHeader)\n[OPTIONS]\n\nenable: \(cluster.enabled ? 1 : 0)\npolicy_in: \(cluster.policyIn.rawValue)\npolicy_out: \(cluster.policyOut.rawValue)\n\n[RULES]\n\n"
            text += "IN ACCEPT -i lo\n"
            for rule in cluster.rules { text += Self.line(rule) + "\n" }
            output.files.append(RenderedFile(target: .host, path: "/etc/pve/firewall/cluster.fw", contents: text, mode: "0640"))
            let host = "# \(generatedHeader)\n[OPTIONS]\n\nenable: \(cluster.enabled ? 1 : 0)\n"
            output.files.append(RenderedFile(target: .host, path: "/etc/pve/nodes/\(nodeName)/host.fw", contents: host, mode: "0640"))
        } else {
            output.notes.append("firewall: no firewall block in the hypervisor configuration, cluster.fw and host.fw are not rendered")
        }
        for guest in estate.guests where guest.enabled {
            guard let firewall = guest.firewall else { continue }
            var text = "# \(generatedHeader)\n[OPTIONS]\n\nenable: \(firewall.enabled ? 1 : 0)\n\n[RULES]\n\n"
            if guest.publicInterface {
                for port in ["80", "443"] {
                    let rule = FirewallRule(
                        direction: .in, action: .accept, proto: "tcp", dport: port, iface: "eth1", log: "nolog",
                        comment: "Auto-allow port \(port) on the public interface", enabled: true)
                    text += Self.line(rule) + "\n"
                }
            }
            for rule in firewall.rules { text += Self.line(rule) + "\n" }
            output.files.append(RenderedFile(target: .host, path: "/etc/pve/firewall/\(guest.id).fw", contents: text, mode: "0640"))
        }
    }

    /// `IN ACCEPT -i eth1 -source 10.0.0.0/24 -dest 10.0.0.13 -p udp -dport 53 -log nolog # comment`;
    /// a disabled rule starts with `|`.
    static func line(_ rule: FirewallRule) -> String {
        var parts = [(rule.enabled ? "" : "|") + rule.direction.rawValue, rule.action.rawValue]
        if let iface = rule.iface { parts += ["-i", iface] }
        if let source = rule.source { parts += ["-source", source] }
        if let dest = rule.dest { parts += ["-dest", dest] }
        if let proto = rule.proto { parts += ["-p", proto] }
        if let dport = rule.dport { parts += ["-dport", dport] }
        if let sport = rule.sport { parts += ["-sport", sport] }
        if let log = rule.log { parts += ["-log", log] }
        var line = parts.joined(separator: " ")
        if let comment = rule.comment, !comment.isEmpty { line += " # " + comment }
        return line
    }
}
