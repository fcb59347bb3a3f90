/// A stage of a sync: the name an operator types (`phoenix sync dns`) and its place in the order
/// stages are shown and run in. The stages are the kinds': each kind declares the stages it
/// converges (`ResourceKind.stages`) and the registry lists those of every registered kind
/// (PhoenixServices' `KindRegistry.stages`). A kind of its own may declare a stage of its own with
/// `SyncStage(_:rank:)`; the original's stages are named here because its configuration names them.
public struct SyncStage: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String
    /// Where the stage comes among the others (the original's run 100 apart, so a kind's own stage
    /// can sit between two of them).
    public let rank: Int

    public init(_ name: String, rank: Int) {
        rawValue = name
        self.rank = rank
    }

    /// The stage named `name`: one of the original's with its rank, any other after them all.
    /// (What a run recorded is read back so, and a kind's own stage keeps its name.)
    public init(named name: String) {
        self = Self.original.first { $0.rawValue == name } ?? SyncStage(name, rank: Int.max)
    }

    /// The guests' own settings through the Proxmox API (what `phoenix converge` does); first,
    /// because the files inside a guest need it as configured.
    public static let guests = SyncStage("guests", rank: 100)
    public static let files = SyncStage("files", rank: 200)
    public static let trust = SyncStage("trust", rank: 300)
    public static let dns = SyncStage("dns", rank: 400)
    public static let firewall = SyncStage("firewall", rank: 500)
    public static let certs = SyncStage("certs", rank: 600)
    public static let swarm = SyncStage("swarm", rank: 700)
    public static let services = SyncStage("services", rank: 800)
    public static let gateway = SyncStage("gateway", rank: 900)
    public static let stacks = SyncStage("stacks", rank: 1000)

    /// The stages of the original's `phoenix sync`, in its order: the names its configuration uses.
    public static let original: [SyncStage] = [.guests, .files, .trust, .dns, .firewall, .certs, .swarm, .services, .gateway, .stacks]

    public var description: String { rawValue }

    public static func == (lhs: SyncStage, rhs: SyncStage) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    public static func < (lhs: SyncStage, rhs: SyncStage) -> Bool {
        (lhs.rank, lhs.rawValue) < (rhs.rank, rhs.rawValue)
    }

    public init(from decoder: any Decoder) throws {
        self.init(named: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The service a file belongs to: it tests the file before it goes live and is reloaded or
/// restarted after. One unit is converged as a whole: its files are tested together and go live
/// together. A unit is data — a service, a stage, a machine — and the engine finds its driver by
/// the service's name, so a new service is a new value and a new driver, not a new case to switch on.
public struct ServiceUnit: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The key of the unit's commands under `phoenix.services` (`dnsmasq`, `nginx`, …).
    public let serviceName: String
    public let stage: SyncStage
    public let target: RenderedFile.Target

    public init(service: String, stage: SyncStage, target: RenderedFile.Target) {
        serviceName = service
        self.stage = stage
        self.target = target
    }

    /// The stack files mirrored to the host's stacks folder (rsync; no service to reload).
    public static let stackFiles = ServiceUnit(service: "rsync", stage: .files, target: .host)
    /// The Step-CA root in the host's trust store (`update-ca-certificates`).
    public static let caTrust = ServiceUnit(service: "ca-certificates", stage: .trust, target: .host)
    public static let dnsmasq = ServiceUnit(service: "dnsmasq", stage: .dns, target: .host)
    public static let pveFirewall = ServiceUnit(service: "pve-firewall", stage: .firewall, target: .host)
    public static func traefik(guest: Int) -> ServiceUnit { ServiceUnit(service: "traefik", stage: .services, target: .guest(guest)) }
    public static func nginx(guest: Int) -> ServiceUnit { ServiceUnit(service: "nginx", stage: .gateway, target: .guest(guest)) }

    /// The units phoenix knows, by service name: their stage and whether they live in a guest (how a
    /// unit read back from the state store is rebuilt).
    static let known: [String: (stage: SyncStage, inGuest: Bool)] = [
        "rsync": (.files, false), "ca-certificates": (.trust, false), "dnsmasq": (.dns, false), "pve-firewall": (.firewall, false),
        "traefik": (.services, true), "nginx": (.gateway, true),
    ]

    /// A stable text form for the state store: `dnsmasq`, `pve-firewall`, `traefik@102`, `nginx@101`.
    public var key: String {
        switch target {
        case let .guest(id): return "\(serviceName)@\(id)"
        case .host, .report: return serviceName
        }
    }

    public init?(key: String) {
        let parts = key.split(separator: "@", maxSplits: 1).map(String.init)
        guard let name = parts.first, let service = Self.known[name], service.inGuest == (parts.count == 2) else { return nil }
        if service.inGuest {
            guard let guest = Int(parts[1]) else { return nil }
            self.init(service: name, stage: service.stage, target: .guest(guest))
        } else {
            self.init(service: name, stage: service.stage, target: .host)
        }
    }

    public var description: String {
        switch target {
        case .host, .report: return "\(serviceName) on the host"
        case let .guest(id): return "\(serviceName) in guest \(id)"
        }
    }

    public static func < (lhs: ServiceUnit, rhs: ServiceUnit) -> Bool {
        (lhs.stage, lhs.description) < (rhs.stage, rhs.description)
    }
}

/// What a file needs from its service once it is live.
public enum Activation: String, Sendable, Codable, Comparable {
    /// Nothing: the service watches the file (Traefik's file provider, pve-firewall).
    case none
    /// A reload (SIGHUP for dnsmasq's records, `nginx -s reload`).
    case reload
    /// A restart (dnsmasq's main configuration, Traefik's static configuration).
    case restart

    public static func < (lhs: Activation, rhs: Activation) -> Bool {
        let order: [Activation] = [.none, .reload, .restart]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// One managed file: the unit of planning. Its id is stable across runs (`dns:records`,
/// `firewall:guest/101`, `gateway:site`), so state and drift follow it when its contents change.
public struct Resource: Sendable, Hashable {
    public let id: String
    public let unit: ServiceUnit
    public let path: String
    public let contents: String
    /// Octal mode, e.g. `0644`.
    public let mode: String
    public let activation: Activation
    /// Where it comes from, for plan reasons ("dns_server and the guests' addresses").
    public let origin: String
    /// It may hold secrets (a stack's env file): the state store keeps only a keyed hash of it.
    public let sensitive: Bool

    public init(
        id: String, unit: ServiceUnit, path: String, contents: String, mode: String, activation: Activation, origin: String, sensitive: Bool = false
    ) {
        self.id = id
        self.unit = unit
        self.path = path
        self.contents = contents
        self.mode = mode
        self.activation = activation
        self.origin = origin
        self.sensitive = sensitive
    }

    public var stage: SyncStage { unit.stage }
    public var target: RenderedFile.Target { unit.target }

    /// What a resource of this id needs once live (for resources rebuilt from the state store).
    public static func activation(of id: String) -> Activation {
        switch id {
        case "dns:settings", "services:traefik-static": return .restart
        case "services:traefik-dynamic": return .none
        case let id where id.hasPrefix("files:"): return .none
        default: return .reload
        }
    }
    public var digest: String { Digest.sha256Hex(contents) }
}

/// `--target ID...`: the resources that belong to some guests alone — the files that live in them
/// (the gateway's site in its guest, Traefik's files in its guest) and their own firewall file on
/// the host. Host-wide resources built from every guest (DNS records, the cluster firewall) are
/// not any one guest's, so a targeted run leaves them as they are.
public struct GuestScope: Sendable, Equatable {
    public let guests: Set<Int>

    public init(_ guests: Set<Int>) { self.guests = guests }

    /// Whether a resource of the graph is one of these guests' own.
    public func contains(_ node: ResourceNode) -> Bool {
        if case let .guest(guest) = node.owner { return guests.contains(guest) }
        return false
    }

    public func contains(id: String, target: RenderedFile.Target) -> Bool {
        Self.guest(ofFile: id, target: target).map(guests.contains) ?? false
    }

    /// The guest a file is about: the one it lives in, or the one whose `.fw` file it is (on the host).
    public static func guest(ofFile id: String, target: RenderedFile.Target) -> Int? {
        if case let .guest(guest) = target { return guest }
        return id.hasPrefix("firewall:guest/") ? Int(id.dropFirst("firewall:guest/".count)) : nil
    }
}
