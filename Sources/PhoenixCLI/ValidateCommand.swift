import ArgumentParser
import Foundation
import PhoenixCore

/// `phoenix validate`: load every file, cross-check, report every problem at once.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Load and cross-check every configuration file; exit 65 when invalid.",
        discussion: "Errors and warnings name the file and the JSON pointer of the value. Warnings do not fail validation."
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() throws {
        let report = global.load().report
        let output = format == .json ? DiagnosticsPrinter.json(report) : DiagnosticsPrinter.text(report)
        FileHandle.standardOutput.write(Data(output.utf8))
        if !report.isValid { throw ExitCode(65) }
    }
}
