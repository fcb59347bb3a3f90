import ArgumentParser
import Foundation
import PhoenixCore

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration directory (default: $PHOENIX_CONFIG_DIR, else /usr/local/phoenix_hypervisor/etc).")
    var configDir: String?

    @Option(name: .long, help: "The stacks directory (default: <config-dir>/../stacks).")
    var stacksDir: String?

    var resolvedConfigDirectory: String {
        configDir ?? ProcessInfo.processInfo.environment["PHOENIX_CONFIG_DIR"] ?? "/usr/local/phoenix_hypervisor/etc"
    }

    var resolvedStacksDirectory: String {
        if let stacksDir { return stacksDir }
        var directory = resolvedConfigDirectory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        guard let slash = directory.lastIndex(of: "/") else { return "stacks" }
        let parent = directory[..<slash]
        return (parent.isEmpty ? "" : String(parent)) + "/stacks"
    }

    /// Loads and validates the configuration.
    func load() -> EstateLoader.Result {
        let sources = ConfigReader(configDirectory: resolvedConfigDirectory, stacksDirectory: resolvedStacksDirectory).read()
        return EstateLoader().load(sources)
    }

    /// Loads the estate, or prints the errors on stderr and exits 65.
    func loadValidEstate() throws -> Estate {
        let result = load()
        guard let estate = result.estate, result.report.isValid else {
            FileHandle.standardError.write(Data(DiagnosticsPrinter.text(result.report).utf8))
            throw ExitCode(65)
        }
        return estate
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
