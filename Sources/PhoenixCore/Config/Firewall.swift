/// A Proxmox firewall rule, typed at load time so rendering cannot produce invalid syntax.
public struct FirewallRule: Sendable, Hashable {
    public enum Direction: String, Sendable, Hashable { case `in` = "IN", out = "OUT" }
    public enum Action: String, Sendable, Hashable { case accept = "ACCEPT", drop = "DROP", reject = "REJECT" }

    public var direction: Direction
    public var action: Action
    public var proto: String?
    public var source: String?
    public var dest: String?
    public var dport: String?
    public var sport: String?
    public var iface: String?
    public var log: String?
    public var comment: String?
    public var enabled: Bool
    public var location: SourceLocation?
}

/// The `firewall` block of a guest.
public struct GuestFirewall: Sendable, Hashable {
    public var enabled: Bool
    public var rules: [FirewallRule]
}

/// The cluster-wide firewall (`firewall` at top level, or `shared_volumes.firewall` in older files).
public struct ClusterFirewall: Sendable, Hashable {
    public var enabled: Bool
    public var policyIn: FirewallRule.Action
    public var policyOut: FirewallRule.Action
    public var rules: [FirewallRule]
    /// Whether the configuration declared a firewall block at all.
    public var declared: Bool

    public static let undeclared = ClusterFirewall(enabled: false, policyIn: .drop, policyOut: .accept, rules: [], declared: false)
}

/// The internal DNS server (`dns_server`).
public struct DNSSettings: Sendable, Hashable {
    public var enabled: Bool
    public var upstreamServers: [IPv4Address]
    public var listenAddresses: [IPv4Address]
    public var port: Port
    /// Where the records file is installed on the host (read by dnsmasq as `addn-hosts`).
    public var recordsFile: String
    /// Where the dnsmasq settings file is installed on the host.
    public var configFile: String
}
