/// A guest as `/cluster/resources` reports it.
public struct ProxmoxGuest: Sendable, Equatable {
    public enum Kind: String, Sendable { case lxc, qemu }

    public let vmid: Int
    public let kind: Kind
    public let node: String
    public let name: String
    public let status: String
    public let template: Bool
    public let tags: [String]
    /// What /cluster/resources says of its configuration: cores (`maxcpu`) and memory (`maxmem`).
    public var maxCPU: Int = 0
    public var maxMemory: Int = 0

    public init(
        vmid: Int, kind: Kind, node: String, name: String, status: String, template: Bool, tags: [String], maxCPU: Int = 0, maxMemory: Int = 0
    ) {
        self.vmid = vmid
        self.kind = kind
        self.node = node
        self.name = name
        self.status = status
        self.template = template
        self.tags = tags
        self.maxCPU = maxCPU
        self.maxMemory = maxMemory
    }

    /// What the bulk read shows of the guest's configuration, as one string (power state left out).
    /// When it is what it was right after the last converge, only settings the bulk read does not
    /// show (network, start at boot) could have been changed by hand.
    public var observed: String {
        "\(kind.rawValue) node=\(node) name=\(name) template=\(template) tags=\(tags.sorted().joined(separator: ";")) maxcpu=\(maxCPU) maxmem=\(maxMemory)"
    }

    /// The API path of this guest: `/nodes/pve1/lxc/101`.
    public var path: String { "/nodes/\(node)/\(kind.rawValue)/\(vmid)" }
}

/// What `converge` would change on one guest.
public struct GuestConfigPlan: Sendable {
    public let guest: ProxmoxGuest
    public let changes: [ConfigChange]

    public init(guest: ProxmoxGuest, changes: [ConfigChange]) {
        self.guest = guest
        self.changes = changes
    }

    /// The plan of `guest`'s entry against its configuration as Proxmox holds it (`config`: the
    /// values of `GET …/config`, as text).
    public init(_ guest: Guest, actual: ProxmoxGuest, config: [String: String]) {
        var changes = ProxmoxGuestConfig.differences(desired: ProxmoxGuestConfig.settings(for: guest), actual: config)
        if let tags = ProxmoxGuestConfig.tagChange(desired: guest.hardware.tags, actual: config["tags"]) { changes.append(tags) }
        self.init(guest: actual, changes: changes)
    }
}

/// The firewall of one scope (the cluster or a guest) as phoenix converges it.
public struct FirewallScopePlan: Sendable {
    public let name: String
    /// `/cluster/firewall` or `/nodes/pve1/lxc/101/firewall`.
    public let base: String
    public let options: [ConfigChange]
    public let edits: [FirewallEdit]
    /// phoenix's rules as they were when planned, in order: what a restore puts back.
    public var managedBefore: [APIRule] = []
    public var isEmpty: Bool { options.isEmpty && edits.isEmpty }

    public init(name: String, base: String, options: [ConfigChange], edits: [FirewallEdit], managedBefore: [APIRule] = []) {
        self.name = name
        self.base = base
        self.options = options
        self.edits = edits
        self.managedBefore = managedBefore
    }

    /// The plan of a scope from what it holds (`rules` in the API's order, `current` options; nil
    /// when they were not read) against phoenix's `apiRules` and `options`.
    public init(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)], rules actual: [APIRule], current: [String: String]?
    ) {
        self.init(
            name: name, base: base, options: current.map { ProxmoxGuestConfig.differences(desired: options, actual: $0) } ?? [],
            edits: FirewallAPIPlan.edits(actual: actual, desired: apiRules), managedBefore: actual.filter(\.isManaged))
    }
}

/// What a command run through the QEMU guest agent ended with.
public struct AgentResult: Sendable, Equatable {
    public let exitCode: Int
    public let stdout: String
    public let stderr: String

    public init(exitCode: Int, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }
}
