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
                settings.append(("net0", containerInterface(network, defaultName: "eth0")))
            case .vm:
                var parts = [network.hwaddr.map { "virtio=\($0)" } ?? "virtio"]
                if let bridge = network.bridge { parts.append("bridge=\(bridge)") }
                settings.append(("net0", parts.joined(separator: ",")))
                if let ip = network.ip {
                    settings.append(("ipconfig0", (["ip=\(text(ip))"] + (network.gateway.map { ["gw=\($0)"] } ?? [])).joined(separator: ",")))
                }
            }
        }
        if guest.kind == .lxc, let second = hardware.secondNetwork {
            settings.append(("net1", containerInterface(second, defaultName: "eth1")))
        }
        return settings
    }

    /// An LXC interface as `pct` writes it: `name=eth0,bridge=vmbr0,ip=…,gw=…,hwaddr=…`.
    static func containerInterface(_ network: NetworkInterface, defaultName: String) -> String {
        var parts = ["name=\(network.name ?? defaultName)"]
        if let bridge = network.bridge { parts.append("bridge=\(bridge)") }
        if let ip = network.ip { parts.append("ip=\(text(ip))") }
        if let gateway = network.gateway { parts.append("gw=\(gateway)") }
        if let hwaddr = network.hwaddr { parts.append("hwaddr=\(hwaddr)") }
        return parts.joined(separator: ",")
    }

    /// The guest's tags with phoenix's ownership tag added, in Proxmox's `;` form, sorted.
    public static func tags(merging existing: [String]) -> String {
        Array(Set(existing + [ownershipTag])).sorted().joined(separator: ";")
    }

    /// The `tags` change `converge` makes: the configuration's tags added to those the guest has
    /// (a tag set by hand is kept; ownership is never claimed here); nil when all are there.
    public static func tagChange(desired: [String], actual: String?) -> ConfigChange? {
        let present = splitTags(actual ?? "")
        guard !desired.allSatisfy(present.contains) else { return nil }
        return ConfigChange(key: "tags", from: actual, to: Array(Set(present + desired)).sorted().joined(separator: ";"))
    }

    /// Proxmox's tag list (`a;b`, also `,` or spaces), lower-cased.
    public static func splitTags(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == ";" || $0 == "," || $0 == " " }).map { $0.lowercased() }
    }

    /// A fingerprint of everything `converge` sets on a guest: equal fingerprints mean the
    /// configuration asks for nothing new since the guest was last converged.
    public static func fingerprint(for guest: Guest) -> String {
        var text = "\(guest.kind == .lxc ? "lxc" : "qemu")\n"
        for setting in settings(for: guest) { text += "\(setting.key)=\(setting.value)\n" }
        text += "tags=\(guest.hardware.tags.sorted().joined(separator: ";"))\n"
        return Digest.sha256Hex(text)
    }

    static func text(_ address: InterfaceAddress) -> String {
        switch address {
        case .dhcp: return "dhcp"
        case let .manual(ip, prefix): return prefix.map { "\(ip)/\($0)" } ?? "\(ip)/32"
        }
    }
}

/// One setting `converge` changes on a guest.
public struct ConfigChange: Sendable, Equatable {
    public let key: String
    /// What Proxmox has now (nil when unset).
    public let from: String?
    public let to: String

    public init(key: String, from: String?, to: String) {
        self.key = key
        self.from = from
        self.to = to
    }
}

extension ProxmoxGuestConfig {
    /// The settings whose value on Proxmox differs from what the configuration asks for. Option
    /// strings (`net0`) compare by their parts: the parts the configuration names must match, parts
    /// Proxmox adds itself (`type=veth`, a generated MAC) are left alone; a part given without a
    /// value (`virtio`) only has to be there.
    public static func differences(desired: [(key: String, value: String)], actual: [String: String]) -> [ConfigChange] {
        desired.compactMap { setting in
            guard let current = actual[setting.key] else { return ConfigChange(key: setting.key, from: nil, to: setting.value) }
            return matches(setting.value, current) ? nil : ConfigChange(key: setting.key, from: current, to: setting.value)
        }
    }

    static func matches(_ desired: String, _ actual: String) -> Bool {
        let optionString = { (text: String) in text.contains(",") || text.contains("=") }
        guard optionString(desired) || optionString(actual) else { return desired == actual }
        let wanted = parts(desired)
        let present = parts(actual)
        return wanted.allSatisfy { key, value in
            guard let have = present[key] else { return false }
            return value.isEmpty || have.caseInsensitiveCompare(value) == .orderedSame
        }
    }

    /// `name=eth0,bridge=vmbr0` → ["name": "eth0", "bridge": "vmbr0"]; `virtio` → ["virtio": ""].
    static func parts(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            result[String(pair[0])] = pair.count == 2 ? String(pair[1]) : ""
        }
        return result
    }
}
