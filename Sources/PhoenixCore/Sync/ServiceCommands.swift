/// How phoenix tests, reloads and restarts one service, as argv arrays (never a shell string).
/// `{config}` in a test command stands for the staged file under test. The defaults are the
/// original's systemd commands; `phoenix.services.<name>` in the hypervisor file overrides them.
public struct ServiceCommands: Sendable, Hashable {
    public var test: [String]?
    public var reload: [String]?
    public var restart: [String]?
    /// Whether phoenix checks that the service serves what was asked after a change (default
    /// true). Turned off with `"verify": false`, which plan and sync warn about every time.
    public var verify = true

    public init(test: [String]?, reload: [String]?, restart: [String]?, verify: Bool = true) {
        self.test = test
        self.reload = reload
        self.restart = restart
        self.verify = verify
    }

    /// The warning plan and sync print for each service whose verification is turned off.
    public static func verificationWarnings(_ settings: PhoenixSettings, stages: Set<SyncStage>) -> [String] {
        let stageOf: [String: SyncStage] = [
            "dnsmasq": .dns, "nginx": .gateway, "traefik": .services, "pve-firewall": .firewall, "ca-certificates": .trust,
        ]
        return serviceNames.filter { settings.commands(for: $0).verify == false && stages.contains(stageOf[$0] ?? .files) }.map {
            "warning: phoenix.services.\($0).verify is false: a change to \($0) is not checked after it goes live"
        }
    }

    public static let serviceNames = ["dnsmasq", "nginx", "traefik", "pve-firewall", "ca-certificates"]

    public static func defaults(for service: String) -> ServiceCommands {
        switch service {
        case "dnsmasq":
            return ServiceCommands(
                test: ["dnsmasq", "--test", "--conf-file={config}"], reload: ["systemctl", "kill", "--signal=HUP", "dnsmasq"],
                restart: ["systemctl", "restart", "dnsmasq"])
        case "nginx":
            return ServiceCommands(
                test: ["nginx", "-t", "-q", "-c", "{config}"], reload: ["systemctl", "reload", "nginx"], restart: ["systemctl", "restart", "nginx"])
        case "traefik":
            return ServiceCommands(test: nil, reload: nil, restart: ["systemctl", "restart", "traefik"])
        case "ca-certificates":
            return ServiceCommands(
                test: ["openssl", "x509", "-noout", "-in", "{config}"], reload: ["update-ca-certificates"], restart: ["update-ca-certificates", "--fresh"])
        case "pve-firewall":
            return ServiceCommands(test: ["pve-firewall", "compile"], reload: ["pve-firewall", "restart"], restart: ["pve-firewall", "restart"])
        default:
            return ServiceCommands(test: nil, reload: nil, restart: nil)
        }
    }

    /// An argv array phoenix may run: a program name or absolute path, then single-line arguments.
    public static func isCommand(_ argv: [String]) -> Bool {
        guard let program = argv.first, !program.isEmpty,
            program.hasPrefix("/")
                ? TextRules.isAbsolutePath(program)
                : program.utf8.allSatisfy({
                    TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                })
        else { return false }
        return argv.allSatisfy { TextRules.isSingleLine($0) }
    }
}
