/// The Proxmox configuration a guest's entry asks for, as API parameters. Pure: the API client
/// sends these when it creates or converges a guest.
public enum ProxmoxGuestConfig {
    /// Every guest phoenix creates carries this tag, so a recycled VMID is never taken for its own.
    public static let ownershipTag = "phoenix-managed"

    /// The settings phoenix manages, in a stable order (`tags` excluded: see `tags(merging:)`).
    public static func settings(for guest: Guest) -> [(key: String, value: String)] {
        let hardware = guest.hardware
        var settings: [(key: String, value: String)] = []
        if guest.kind == .lxc {
            settings.append(("hostname", guest.hostname?.text ?? guest.name))
        } else {
            settings.append(("name", guest.hostname?.text ?? guest.name))
        }
        if let cores = hardware.cores { settings.append(("cores", String(cores))) }
        if let memory = hardware.memoryMB { settings.append(("memory", String(memory))) }
        if guest.kind == .lxc, let swap = hardware.swapMB { settings.append(("swap", String(swap))) }
        settings.append(("onboot", guest.startAtBoot ? "1" : "0"))
        if let order = guest.bootOrder { settings.append(("startup", "order=\(order)")) }
        if let network = hardware.network {
            switch guest.kind {
            case .lxc:
                var parts = ["name=\(network.name ?? "eth0")"]
                if let bridge = network.bridge { parts.append("bridge=\(bridge)") }
                if let ip = network.ip { parts.append("ip=\(text(ip))") }
                if let gateway = network.gateway { parts.append("gw=\(gateway)") }
                if let hwaddr = network.hwaddr { parts.append("hwaddr=\(hwaddr)") }
                settings.append(("net0", parts.joined(separator: ",")))
            case .vm:
                var parts = [network.hwaddr.map { "virtio=\($0)" } ?? "virtio"]
                if let bridge = network.bridge { parts.append("bridge=\(bridge)") }
                settings.append(("net0", parts.joined(separator: ",")))
                if let ip = network.ip {
                    settings.append(("ipconfig0", (["ip=\(text(ip))"] + (network.gateway.map { ["gw=\($0)"] } ?? [])).joined(separator: ",")))
                }
            }
        }
        return settings
    }

    /// The guest's tags with phoenix's ownership tag added, in Proxmox's `;` form, sorted.
    public static func tags(merging existing: [String]) -> String {
        Array(Set(existing + [ownershipTag])).sorted().joined(separator: ";")
    }

    static func text(_ address: InterfaceAddress) -> String {
        switch address {
        case .dhcp: return "dhcp"
        case let .manual(ip, prefix): return prefix.map { "\(ip)/\($0)" } ?? "\(ip)/32"
        }
    }
}
