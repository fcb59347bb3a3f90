/// Where a value came from, for diagnostics raised after loading.
public struct SourceLocation: Sendable, Hashable {
    public let file: String
    public let pointer: JSONPointer
    public init(file: String, pointer: JSONPointer) {
        self.file = file
        self.pointer = pointer
    }
}

/// A secret value (a password, a token). It never prints itself.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The clear text. Read it only where the secret is installed.
    public let revealed: String
    public init(_ value: String) { revealed = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// The whole estate as the configuration declares it: typed, validated, ready to render.
public struct Estate: Sendable {
    public var domain: DNSName
    /// The Proxmox host's own address on its management bridge (`network.interfaces.address`).
    public var hostAddress: IPv4Address?
    /// The host-only bridge network (`network.internal_bridge.subnet`), if any.
    public var internalBridge: IPv4Network?
    /// Every LXC and VM, sorted by id.
    public var guests: [Guest]
    public var firewall: ClusterFirewall
    public var dns: DNSSettings
    public var stacks: [Stack]
    public var certificates: [CertificateRequest]
    /// Manifest entries left out for problems of their own: plan and sync fail their certificates
    /// and leave their files alone.
    public var refusedCertificates: [RefusedCertificate] = []
    public var settings: PhoenixSettings
    public var portainerAdminPassword: Secret?
    /// The hypervisor configuration document, for `when.setting` conditions.
    public var hypervisorDocument: JSONValue
    public var hypervisorFile: String

    public func guest(_ id: Int) -> Guest? {
        // Guests are sorted by id: binary search keeps lookups cheap for large estates.
        var low = 0
        var high = guests.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if guests[mid].id == id { return guests[mid] }
            if guests[mid].id < id { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }
}

public enum GuestKind: String, Sendable, Hashable, Codable {
    case lxc
    case vm
}

/// An LXC container or a QEMU VM.
public struct Guest: Sendable, Identifiable {
    public var id: Int
    public var kind: GuestKind
    public var name: String
    /// `name` as a DNS label sequence (lower-cased), when it is one.
    public var hostname: DNSName?
    public var primaryAddress: InterfaceAddress?
    public var secondaryAddress: InterfaceAddress?
    public var isTemplate: Bool
    /// Phoenix's own key `enabled` (default true): a disabled guest is skipped by every verb.
    public var enabled: Bool
    public var bootOrder: Int?
    public var startAtBoot: Bool
    public var dependencies: [Dependency]
    public var cloneFrom: Int?
    public var traefikService: TraefikService?
    public var firewall: GuestFirewall?
    public var publicInterface: Bool
    public var swarmRole: String?
    public var portainerRole: String?
    public var portainerAgentHostname: DNSName?
    public var portainerEnvironmentName: String?
    /// `node_labels` (`key=value`): the labels phoenix keeps on the guest's Swarm node.
    public var nodeLabels: [String: String] = [:]
    public var dockerStacks: [Located<String>]
    public var triggerSyncOnCompletion: Bool
    public var source: SourceLocation
    /// What guest creation and `converge` set on Proxmox.
    public var hardware = GuestHardware()

    /// The address records point at: the static primary address, else the static secondary one.
    public var staticAddress: IPv4Address? {
        primaryAddress?.staticAddress ?? secondaryAddress?.staticAddress
    }

    /// The resource of a guest's own settings: `guest:<id>` (what a resource inside the guest needs).
    public static func resourceID(_ id: Int) -> String { "guest:\(id)" }
}

/// The parts of a guest's Proxmox configuration phoenix creates and converges.
public struct GuestHardware: Sendable, Equatable {
    public var cores: Int?
    public var memoryMB: Int?
    public var swapMB: Int?
    public var storagePool: String?
    public var diskGB: Int?
    /// An LXC's OS template (`template`): a volume (`local:vztmpl/…`) or an absolute path.
    public var templateFile: String?
    /// The first interface: `network_config` (`name`, `bridge`, `ip`, `gw`, `hwaddr`); an LXC's
    /// `mac_address` is its hwaddr when `network_config` names none, a VM's bridge comes from
    /// `vm_defaults.network_bridge` when it names none.
    public var network: NetworkInterface?
    /// An LXC's second interface (`secondary_network_config`): `net1`.
    public var secondNetwork: NetworkInterface?
    /// Proxmox tags the guest must carry (`tags`: a list, or one string split at `;`, `,` or spaces),
    /// lower-cased. Tags set by hand are kept beside them.
    public var tags: [String] = []

    public init() {}
}

extension GuestHardware {
    /// Takes every value `defaults` has that this hardware does not set (`vm_defaults`).
    public mutating func fill(from defaults: GuestHardware) {
        cores = cores ?? defaults.cores
        memoryMB = memoryMB ?? defaults.memoryMB
        swapMB = swapMB ?? defaults.swapMB
        storagePool = storagePool ?? defaults.storagePool
        diskGB = diskGB ?? defaults.diskGB
        if let bridge = defaults.network?.bridge, network?.bridge == nil {
            var interface = network ?? NetworkInterface()
            interface.bridge = bridge
            network = interface
        }
    }
}

/// A guest network interface as the original writes it.
public struct NetworkInterface: Sendable, Equatable {
    public var name: String?
    public var bridge: String?
    public var ip: InterfaceAddress?
    public var gateway: IPv4Address?
    public var hwaddr: String?

    public init(name: String? = nil, bridge: String? = nil, ip: InterfaceAddress? = nil, gateway: IPv4Address? = nil, hwaddr: String? = nil) {
        self.name = name
        self.bridge = bridge
        self.ip = ip
        self.gateway = gateway
        self.hwaddr = hwaddr
    }
}

/// A value with the place it was read from.
public struct Located<Value: Sendable>: Sendable {
    public let value: Value
    public let location: SourceLocation
    public init(_ value: Value, _ location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// `traefik_service`: a name routed through the ingress to a port of this guest.
public struct TraefikService: Sendable, Hashable {
    public enum Scheme: String, Sendable, Hashable { case http, https }
    public var name: DNSName
    public var port: Port
    public var scheme: Scheme
    public var location: SourceLocation
}

/// The verbs that walk the guest graph.
public enum GraphVerb: String, Sendable, Hashable, CaseIterable, Codable {
    case create
    case start
    case stop
}

/// One entry of a guest's `dependencies`.
public struct Dependency: Sendable, Hashable {
    public var target: Int
    public var optional: Bool
    public var condition: DependencyCondition?
    public var location: SourceLocation
}

/// The `when` of a dependency: the verbs it applies to and/or a setting it depends on.
public struct DependencyCondition: Sendable, Hashable {
    public var verbs: Set<GraphVerb>?
    /// A JSON pointer into the hypervisor configuration.
    public var setting: JSONPointer?
    /// The value the setting must have for the edge to count (default `true`).
    public var equals: JSONValue
}

extension JSONValue: Hashable {
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case let .bool(value): hasher.combine(value)
        case let .number(value): hasher.combine(value)
        case let .string(value): hasher.combine(value)
        case let .array(values): hasher.combine(values)
        case let .object(members):
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        }
    }
}
