import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices

/// `phoenix certs status`.
struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "The certificates of the manifest as they are installed.",
        subcommands: [CertsStatusCommand.self, CertsRenewCommand.self])
}

/// `phoenix certs renew NAME...`: `sync certs --force NAME...`.
struct CertsRenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew the named certificates now, whatever their state (the others converge as sync certs would).",
        discussion: "The same run as `phoenix sync certs --force NAME...`: installed, hooks, served check, restore on failure.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Flag(name: .long, help: "Print the plan and change nothing at all.") var dryRun = false
    @Argument(help: "Common names to renew.") var names: [String]

    func validate() throws {
        if names.isEmpty { throw ValidationError("name the certificates to renew (their common names)") }
    }

    func run() async throws {
        var options = target
        options.force += names
        try await SyncCommand.execute(global: global, target: options, firewallThroughAPI: false, format: format, dryRun: dryRun, stageNames: ["certs"])
    }
}

struct CertsStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every certificate: names (DNS and IP apart), serial, validity, state, whether the key matches, where it is installed. Issues nothing.",
        discussion: "One bulk read per machine for all certificates. Exit 1 when the root or a machine cannot be read.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "Common names to show (default: all).") var names: [String] = []

    func run() async throws {
        let estate = try global.loadValidEstate()
        if let name = estate.unknownCertificates(names).first { throw fail("\(name): no certificate of the manifest has that common name", code: 64) }
        let stats = MachineStats()
        let started = Date()
        var options = KindOptions()
        options[CertificatesShown.self] = Set(names)
        let (read, _) = try await target.withService(estate: estate, stages: [.certs], options: options, stats: stats, stacksDirectory: nil, store: nil) {
            await $0.readStatus(of: CertConvergence.self, store: nil)
        }
        let status = try read.orFail()
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
        target.printStats(stats, started: started)
    }
}
