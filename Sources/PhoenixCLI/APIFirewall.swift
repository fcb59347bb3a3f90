import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices

/// How the firewall stage converges.
enum FirewallMode: String, ExpressibleByArgument, CaseIterable {
    /// cluster.fw, host.fw and <id>.fw on the node, compiled and reloaded there (the original's way).
    case files
    /// Rules and options through the Proxmox API, phoenix's rules marked in their comment.
    case api
}

/// `--firewall-through` for `sync` and `plan` (the API options are the target's).
struct FirewallModeOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "How the firewall stage converges: files (the .fw files on the node) or api (rules and options through the Proxmox API; needs --api).")
    var firewallThrough: FirewallMode = .files
}
