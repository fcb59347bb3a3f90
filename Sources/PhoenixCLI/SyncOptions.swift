import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    case auto, plain, none
}

/// Where phoenix converges to and how: the targets, the state store, progress.
struct SyncOptions: ParsableArguments {
    @OptionGroup var stateStore: StateOptions

    @Option(name: .long, help: "Treat DIR as / on this machine: install host files under it (tests and the lab; default $PHOENIX_HOST_ROOT).")
    var hostRoot: String?

    @Option(name: .long, help: "Reach the Proxmox node with the system ssh at DEST (user@host) instead of running on it.")
    var ssh: String?

    @Option(name: .long, help: "An ssh configuration file for --ssh (passed as ssh -F): port, key, host key checking.")
    var sshConfig: String?

    @Option(
        name: .long,
        help:
            "Keep each guest as a local folder DIR/<id> instead of reaching it (containers with pct, VMs through their guest agent; tests and the lab; default $PHOENIX_GUEST_ROOT)."
    )
    var guestRoot: String?

    @Option(name: .long, help: "The Proxmox node name for host.fw when the configuration sets none (default: this host's name).")
    var node: String?

    @Option(name: .long, help: "Only the resources of this guest: the files in it and its own firewall file (repeat for more guests).")
    var target: [Int] = []

    @Option(name: .long, help: "How many units converge at once.")
    var parallelism: Int = 4

    @Option(name: .long, help: "Seconds to wait for a changed service to serve what was asked before its change is undone.")
    var verifyTimeout: Double = 15

    @Option(name: .long, help: "Seconds after which the host restores the previous firewall by itself unless phoenix confirmed the new one.")
    var firewallRevert: Double = 60

    @Flag(
        name: .long,
        help: "Remove what phoenix deployed that the configuration no longer lists: stacks, and services a stack's compose file no longer has.")
    var prune = false

    @Option(name: .long, help: "Renew this certificate (its common name) whatever its state; repeat for more.")
    var force: [String] = []

    @Option(name: .long, help: "Progress on stderr: auto, plain or none.")
    var progress: ProgressMode = .auto

    @Flag(name: .long, help: "Print on stderr how many calls phoenix made to each machine, how many changed a file, and the reloads.")
    var stats = false

    /// VMs are reached through their guest agent over the API (containers through pct on the host).
    @OptionGroup var connection: APIConnection

    /// The environment, an empty variable counting as unset.
    var environment: [String: String] { ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty } }

    func machines(for estate: Estate, stats: MachineStats, vms: VMDirectory) -> Machines {
        let hostRoot = hostRoot ?? environment["PHOENIX_HOST_ROOT"]
        let hostMachine: any Machine =
            if let ssh { SSHMachine(destination: ssh, options: sshConfig.map { ["-F", $0] } ?? []) } else { LocalMachine(name: "the host", root: hostRoot) }
        let host: any Machine = CountingMachine(hostMachine, stats: stats)
        if let guestRoot = guestRoot ?? environment["PHOENIX_GUEST_ROOT"] {
            return Machines(host: host) { CountingMachine(LocalMachine(name: "guest \($0)", root: "\(guestRoot)/\($0)"), stats: stats) }
        }
        // Containers through pct on the host (which counts those calls); VMs through their guest agent.
        return Machines(host: host) { id -> any Machine in
            if estate.guest(id)?.kind == .vm { return CountingMachine(AgentGuestMachine(id: id, directory: vms), stats: stats) }
            return PctGuestMachine(id: id, host: host)
        }
    }

    /// The `--stats` line: round trips per system, writes (rsync's files among them), reloads and
    /// restarts (certificate hooks among them), deploys and signs — every kind's, one line.
    func printStats(_ machineStats: MachineStats, run: RunStats = RunStats(), started: Date, apiCalls: Int? = nil, store: (any StateBackend)? = nil) {
        guard stats else { return }
        let api = apiCalls ?? 0
        let roundTrips = machineStats.roundTrips + api + run[.engineCalls] + run[.caCalls]
        var line = String(
            format:
                "stats: %.3f s, %d round trips (%d reads, %d commands; %d Proxmox API, %d Engine API, %d Step-CA), %d writes (writes, renames, removals, files sent), %d reloads or restarts, %d deploys, %d signs",
            Date().timeIntervalSince(started), roundTrips, machineStats["read"], machineStats["command"], api, run[.engineCalls], run[.caCalls],
            machineStats.mutations + run[.writes], run[.reloads], run[.deploys], run[.signs])
        line += apiCalls.map { ", \($0) API calls" } ?? ""
        line += store.map { ", \($0.roundTrips) state store round trips\n" } ?? "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Runs `body` with the engine, then ends the API client the VMs used, if any.
    func withEngine<T: Sendable>(
        for estate: Estate, stats: MachineStats = MachineStats(), stacksDirectory: String? = nil, _ body: (SyncEngine) async throws -> T
    ) async throws -> T {
        for id in target where estate.guest(id) == nil { throw fail("--target \(id): there is no guest \(id) in the configuration", code: 64) }
        let connection = self.connection
        let vms = VMDirectory { try connection.makeClient() }
        let engine = engine(for: estate, stats: stats, stacksDirectory: stacksDirectory, vms: vms)
        do {
            let result = try await body(engine)
            await vms.shutdown()
            return result
        } catch {
            await vms.shutdown()
            throw error
        }
    }

    func engine(for estate: Estate, stats: MachineStats, stacksDirectory: String?, vms: VMDirectory, quiet: Bool = false) -> SyncEngine {
        let nodeName = nodeName(for: estate)
        var engine = SyncEngine(estate: estate, machines: machines(for: estate, stats: stats, vms: vms), nodeName: nodeName)
        engine.parallelism = max(1, parallelism)
        engine.timeouts.verify = max(0.5, verifyTimeout)
        engine.timeouts.firewallRevert = max(1, firewallRevert)
        engine.timeouts.firewallConfirm = min(engine.timeouts.firewallConfirm, engine.timeouts.firewallRevert / 2)
        engine.scope = target.isEmpty ? nil : GuestScope(Set(target))
        // Quiet (the agent): to the running task's sink, which keeps each run's lines.
        if quiet {
            engine.reporter = TaskLocalProgress()
        } else {
            engine.reporter = progress == .none ? SilentProgress() : StderrProgress()
        }
        if let stacksDirectory {
            let (files, skipped) = StackFilesReader.read(stacksDirectory)
            engine.stackFiles = files
            engine.stacksDirectory = stacksDirectory
            for name in skipped where !quiet {
                FileHandle.standardError.write(Data("note: files: stacks/\(TextRules.printable(name)) is not text; it is not mirrored\n".utf8))
            }
        }
        return engine
    }

    /// The Proxmox node name for host.fw: --node, else phoenix.node_name, else this host's name.
    func nodeName(for estate: Estate) -> String {
        node ?? estate.settings.nodeName ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
    }

    /// The store for reading; nil when there is none yet (nothing is created).
    func existingStore() async throws -> (any StateBackend)? { try await stateStore.location.existing() }

    func writableStore() async throws -> any StateBackend { try await stateStore.location.writable() }
}

/// Progress lines on stderr, with the time since the command started.
struct StderrProgress: ProgressReporter {
    let started = Date()
    func report(_ line: String) {
        let elapsed = String(format: "%5.1fs", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data("[\(elapsed)] \(TextRules.printable(line, limit: 400))\n".utf8))
    }
}

/// Prints `message` as an error on stderr and returns the exit code 1 to throw.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(TextRules.printable(message, limit: 2000))\n".utf8))
    return ExitCode(code)
}

/// Parses stage arguments: names, or `all`.
func parseStages(_ arguments: [String]) throws -> [SyncStage] {
    let registered = KindRegistry.standard.stages
    if arguments.isEmpty || arguments.contains("all") { return registered }
    var stages: [SyncStage] = []
    for argument in arguments {
        guard let stage = KindRegistry.standard.stage(named: argument) else {
            throw ValidationError("unknown stage \"\(argument)\"; stages are \(registered.map(\.rawValue).joined(separator: ", ")) and all")
        }
        stages.append(stage)
    }
    return registered.filter(stages.contains)
}
