import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixServices

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration directory (default: $PHOENIX_CONFIG_DIR, else /usr/local/phoenix_hypervisor/etc).")
    var configDir: String?

    @Option(name: .long, help: "The stacks directory (default: <config-dir>/../stacks).")
    var stacksDir: String?

    @Option(name: .long, help: "Colour in text output: auto (on a terminal, unless $NO_COLOR is set), always or never.")
    var color: ColorMode = .auto

    /// Whether text on stdout gets colour.
    var colored: Bool { color.enabled(forDescriptor: STDOUT_FILENO) }

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
        return EstateLoader(stages: KindRegistry.standard.stages).load(sources)
    }

    /// Loads the estate, or prints the errors on stderr and exits 65. Errors that leave out one
    /// resource only (a manifest entry with a problem of its own) are printed and the estate is
    /// used: those resources fail where they come up, the others converge.
    func loadValidEstate() throws -> Estate {
        let result = load()
        guard let estate = result.estate, result.report.isUsable else {
            FileHandle.standardError.write(Data(DiagnosticsPrinter.text(result.report).utf8))
            throw ExitCode(65)
        }
        if !result.report.isValid { FileHandle.standardError.write(Data(DiagnosticsPrinter.leftOut(result.report).utf8)) }
        return estate
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `--color`: `auto` colours a terminal unless NO_COLOR is set (https://no-color.org) or TERM is dumb.
enum ColorMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    func enabled(forDescriptor descriptor: Int32, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto: return isatty(descriptor) == 1 && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
        }
    }
}

/// ANSI colours for text output; `enabled` false leaves the text as it is.
