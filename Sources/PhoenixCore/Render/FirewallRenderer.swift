/// Renders the Proxmox firewall: `cluster.fw`, the node's `host.fw`, and `<vmid>.fw` for every guest
/// that declares a firewall, in rule syntax current pve-firewall accepts.
struct FirewallRenderer {
    let estate: Estate
    let nodeName: String

    func render(into output: inout RenderOutput) {
        let cluster = estate.firewall
        if cluster.declared {
            var text =
                "# \(generatedHeader)\n[OPTIONS]\n\nenable: \(cluster.enabled ? 1 : 0)\npolicy_in: \(cluster.policyIn.rawValue)\npolicy_out: \(cluster.policyOut.rawValue)\n\n[RULES]\n\n"
            text += "IN ACCEPT -i lo\n"
            for rule in cluster.rules { Self.append(rule, to: &text) }
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
                    Self.append(rule, to: &text)
                }
            }
            for rule in firewall.rules { Self.append(rule, to: &text) }
            output.files.append(RenderedFile(target: .host, path: "/etc/pve/firewall/\(guest.id).fw", contents: text, mode: "0640"))
        }
    }

    /// `IN ACCEPT -i eth1 -source 10.0.0.0/24 -dest 10.0.0.13 -p udp -dport 53 -log nolog # comment`
    /// and a newline; a disabled rule starts with `|`.
    static func append(_ rule: FirewallRule, to text: inout String) {
        if !rule.enabled { text += "|" }
        text += rule.direction.rawValue
        text += " "
        text += rule.action.rawValue
        for (option, value) in [
            ("-i", rule.iface), ("-source", rule.source), ("-dest", rule.dest), ("-p", rule.proto), ("-dport", rule.dport),
            ("-sport", rule.sport), ("-log", rule.log),
        ] {
            guard let value else { continue }
            text += " "
            text += option
            text += " "
            text += value
        }
        if let comment = rule.comment, !comment.isEmpty {
            text += " # "
            text += comment
        }
        text += "\n"
    }
}
