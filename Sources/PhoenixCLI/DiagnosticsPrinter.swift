import Foundation
import PhoenixCore

/// Renders a validation report as text or as versioned JSON.
enum DiagnosticsPrinter {
    static func text(_ report: ValidationReport) -> String {
        var out = ""
        for diagnostic in report.errors + report.warnings {
            let pointer = diagnostic.pointer.description.isEmpty ? "" : "#\(diagnostic.pointer)"
            out += "\(diagnostic.severity.rawValue): \(escaped(diagnostic.file))\(escaped(pointer)): \(escaped(diagnostic.message))\n"
            if let hint = diagnostic.hint { out += "  hint: \(escaped(hint))\n" }
            if let resource = diagnostic.resource { out += "  left out: \(escaped(resource)) (the rest of the estate can still be planned and synced)\n" }
        }
        let verdict = report.isValid ? "valid" : "invalid"
        out +=
            "\(verdict): \(report.errors.count) error\(report.errors.count == 1 ? "" : "s"), \(report.warnings.count) warning\(report.warnings.count == 1 ? "" : "s")\n"
        return out
    }

    /// The errors that leave out one resource each, for a command that goes on without them.
    static func leftOut(_ report: ValidationReport) -> String {
        var out = ""
        for diagnostic in report.errors {
            guard let resource = diagnostic.resource else { continue }
            let pointer = diagnostic.pointer.description.isEmpty ? "" : "#\(diagnostic.pointer)"
            out += "error: \(escaped(diagnostic.file))\(escaped(pointer)): \(escaped(diagnostic.message)) (\(escaped(resource)) is left out)\n"
            if let hint = diagnostic.hint { out += "  hint: \(escaped(hint))\n" }
        }
        return out
    }

    /// Control characters from configuration (a key with a newline or a terminal escape) are shown
    /// as `\u{1b}`, so a hostile file cannot forge lines or recolour a terminal.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        return text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }

    static func json(_ report: ValidationReport) -> String {
        func items(_ list: [Diagnostic]) -> JSONValue {
            .array(
                list.map {
                    .object(
                        [
                            ("file", .string($0.file)), ("pointer", .string($0.pointer.description)), ("message", .string($0.message)),
                            ("hint", $0.hint.map(JSONValue.string) ?? .null),
                        ] + ($0.resource.map { [("resource", JSONValue.string($0))] } ?? []))
                })
        }
        return JSONOutput.string(
            .object([("version", .number(1)), ("valid", .bool(report.isValid)), ("errors", items(report.errors)), ("warnings", items(report.warnings))]))
    }
}

/// Every JSON document phoenix prints: versioned by the caller, keys sorted, two-space indent, one
/// trailing newline (JSONWriter, so every command formats alike).
enum JSONOutput {
    static func string(_ value: JSONValue) -> String { JSONWriter().string(value) + "\n" }
}
