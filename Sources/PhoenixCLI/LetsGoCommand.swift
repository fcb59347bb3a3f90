import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix letsgo`: create what is missing, converge, start everything, then `sync all` once when a
/// guest asks for it (`trigger_sync_on_completion`; the original meant to sync after each such
/// guest's start, and crashed before it could).
struct LetsGoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letsgo",
        abstract: "Create every missing guest, converge and start them all in dependency order; then sync all when a guest asks for it.",
        discussion: """
            The sync reaches the host and the guests as phoenix sync does by default: this node, guests through pct \
            ($PHOENIX_HOST_ROOT and $PHOENIX_GUEST_ROOT are honoured). --no-sync leaves it to you.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Do not run sync all afterwards, even when a guest asks for it.") var noSync = false

    func run() async throws {
        // Each step gets the options letsgo was given (they share the global and API options).
        // --stats: each step prints its own line, and letsgo the total of its API steps at the end.
        let started = Date()
        let counter = CallCounter()
        defer {
            if proxmox.stats {
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "stats: letsgo: %.3f s in create, converge and start together, %d API calls\n", Date().timeIntervalSince(started),
                            counter.total
                        ).utf8))
            }
        }
        let arguments = global.arguments + proxmox.arguments
        try await CreateCommand.parse(arguments).run(counter: counter)
        try await ConvergeCommand.parse(arguments).run(counter: counter)
        try await StartCommand.parse(arguments).run(counter: counter)
        let estate = try global.loadValidEstate()
        let asking = estate.guests.filter { $0.enabled && $0.triggerSyncOnCompletion }.map { String($0.id) }
        guard !asking.isEmpty else { return }
        let who = "Guests \(asking.joined(separator: ", ")) ask for a sync"
        if noSync {
            FileHandle.standardOutput.write(Data("\(who); not run (--no-sync): run phoenix sync all.\n".utf8))
            return
        }
        FileHandle.standardOutput.write(Data("\(who): phoenix sync all\n".utf8))
        // The same API (VMs are reached through their guest agent), state store and --stats.
        try await SyncCommand.parse(["all"] + global.arguments + proxmox.arguments).run()
    }
}

extension GlobalOptions {
    /// These options as arguments, to hand to another command.
    var arguments: [String] {
        (configDir.map { ["--config-dir", $0] } ?? []) + (stacksDir.map { ["--stacks-dir", $0] } ?? []) + ["--color", color.rawValue]
    }
}

extension APIConnection {
    /// These options as arguments, to hand to another command (the token stays in its file).
    var arguments: [String] {
        var arguments: [String] = []
        for (flag, value) in [("--api", api), ("--api-ca", apiCa), ("--api-token-file", apiTokenFile), ("--api-user", apiUser)] {
            if let value { arguments += [flag, value] }
        }
        return arguments
    }
}

extension ProxmoxOptions {
    /// These options as arguments, to hand to another command.
    var arguments: [String] {
        connection.arguments + (state.map { ["--state", $0] } ?? []) + (stats ? ["--stats"] : [])
    }
}
