import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices

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
        let (started, counter) = (Date(), CallCounter())
        defer { if proxmox.stats { Self.printTotal(since: started, counter) } }
        let arguments = global.arguments + proxmox.arguments
        var letsgo = LetsGo(estate: try global.loadValidEstate())
        letsgo.sync = !noSync
        let asking = "Guests \(letsgo.asking.map(String.init).joined(separator: ", ")) ask for a sync"
        try await letsgo.run { step in
            switch step {
            case .create: try await CreateCommand.parse(arguments).run(counter: counter)
            case .converge: try await ConvergeCommand.parse(arguments).run(counter: counter)
            case .start: try await StartCommand.parse(arguments).run(counter: counter)
            case .sync:
                FileHandle.standardOutput.write(Data("\(asking): phoenix sync all\n".utf8))
                // The same API (VMs are reached through their guest agent), state store and --stats.
                try await SyncCommand.parse(["all"] + arguments).run()
            }
        }
        if noSync && !letsgo.asking.isEmpty { FileHandle.standardOutput.write(Data("\(asking); not run (--no-sync): run phoenix sync all.\n".utf8)) }
    }

    static func printTotal(since started: Date, _ counter: CallCounter) {
        let line = String(
            format: "stats: letsgo: %.3f s in create, converge and start together, %d API calls\n", Date().timeIntervalSince(started), counter.total)
        FileHandle.standardError.write(Data(line.utf8))
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
        connection.arguments + stateStore.arguments + (stats ? ["--stats"] : [])
    }
}
