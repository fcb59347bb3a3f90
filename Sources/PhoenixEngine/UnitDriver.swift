import Foundation
import PhoenixCore

/// A check that failed while converging a unit: which check, and what it said.
public struct UnitFailure: Error, CustomStringConvertible, Sendable {
    public let check: String
    public let output: String

    public init(check: String, output: String) {
        self.check = check
        self.output = output
    }

    public var description: String { "\(check): \(output)" }
}

/// How long phoenix waits for each kind of call.
public struct Timeouts: Sendable {
    public var command: TimeInterval = 60
    public var verify: TimeInterval = 15
    public var firewallConfirm: TimeInterval = 10
    /// When the host puts the previous firewall back by itself unless phoenix confirmed the new one
    /// (phoenix crashed, or lost its ssh connection to the host it just locked itself out of).
    public var firewallRevert: TimeInterval = 60

    public init() {}
}

/// Everything a unit driver works with.
public struct UnitContext: Sendable {
    public let unit: ServiceUnit
    public let machine: any Machine
    public let commands: ServiceCommands
    public let estate: Estate
    public let timeouts: Timeouts
}

/// The service-specific part of converging a unit: test staged files, make the service pick up the
/// live ones, and check that it serves what was asked. The engine does the rest (staging, atomic
/// activation, the journal, restoring the old files when a check fails).
protocol UnitDriver: Sendable {
    /// `staged`: the unit's changed resources and where their staged copies are.
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure)
    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure)
    /// `live`: every resource of the unit as it now should be served; `previous`: what was installed
    /// before, by resource id (nil when absent).
    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure)
}

extension UnitDriver {
    /// Runs one of the unit's commands, `{config}` standing for `config`; a non-zero status fails `check`.
    func run(_ argv: [String]?, config: String? = nil, check: String, in context: UnitContext) async throws(UnitFailure) {
        guard let argv else { return }
        let resolved = argv.map { argument in config.map { argument.replacingOccurrences(of: "{config}", with: $0) } ?? argument }
        let result: CommandResult
        do {
            result = try await context.machine.run(resolved, timeout: context.timeouts.command)
        } catch {
            throw UnitFailure(check: check, output: error.description)
        }
        guard result.status == 0 else {
            throw UnitFailure(check: "\(check) (\(resolved.joined(separator: " ")), exit \(result.status))", output: result.excerpt)
        }
    }

    func activateWithCommands(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        switch activation {
        case .none: return
        case .reload: try await run(context.commands.reload, check: "\(context.unit.serviceName) reload", in: context)
        case .restart: try await run(context.commands.restart, check: "\(context.unit.serviceName) restart", in: context)
        }
    }

    /// Polls `check` until it returns nil (success) or the verification timeout passes; the last
    /// problem is the failure.
    func poll(_ name: String, timeout: TimeInterval, _ check: @Sendable () async -> String?) async throws(UnitFailure) {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt64 = 50_000_000
        while true {
            guard let problem = await check() else { return }
            if Date() >= deadline { throw UnitFailure(check: name, output: problem) }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 500_000_000)
        }
    }
}

/// Runs blocking work (a probe that waits on a socket) on a thread of its own, so the tasks of the
/// walk keep running meanwhile.
func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in DispatchQueue.global().async { continuation.resume(returning: body()) } }
}

/// The address a service listening on `listen` can be reached at, from the guest's own address.
func reachableAddress(_ listen: ListenAddress, guest: Guest?) -> IPv4Address? {
    if let host = listen.host, host != IPv4Address(0) { return host }
    return guest?.staticAddress
}

/// The driver of each service, by its name (`ServiceUnit.serviceName`): a new service is one more entry.
let drivers: [String: any UnitDriver] = [
    ServiceUnit.stackFiles.serviceName: StackFilesDriver(), ServiceUnit.caTrust.serviceName: TrustDriver(),
    ServiceUnit.dnsmasq.serviceName: DnsmasqDriver(), ServiceUnit.pveFirewall.serviceName: FirewallDriver(),
    ServiceUnit.traefik(guest: 0).serviceName: TraefikDriver(), ServiceUnit.nginx(guest: 0).serviceName: NginxDriver(),
]

/// The unit's driver; nil for a service phoenix has none for (the unit then fails: never installed untested).
func driver(for unit: ServiceUnit) -> (any UnitDriver)? { drivers[unit.serviceName] }
