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
        }
        let verdict = report.isValid ? "valid" : "invalid"
        out += "\(verdict): \(report.errors.count) error\(report.errors.count == 1 ? "" : "s"), \(report.warnings.count) warning\(report.warnings.count == 1 ? "" : "s")\n"
        return out
    }

    /// Control characters from configuration (a key with a newline or a terminal escape) are shown
    /// as `\u{1b}`, so a hostile file cannot forge lines or recolour a terminal.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        return text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }

    struct Document: Encodable {
        struct Item: Encodable {
            let file: String
            let pointer: String
            let message: String
            let hint: String?

            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(file, forKey: .file)
                try container.encode(pointer, forKey: .pointer)
                try container.encode(message, forKey: .message)
                try container.encode(hint, forKey: .hint)
            }
            enum CodingKeys: String, CodingKey { case file, pointer, message, hint }
        }
        let version = 1
        let valid: Bool
        let errors: [Item]
        let warnings: [Item]
    }

    static func json(_ report: ValidationReport) -> String {
        func items(_ list: [Diagnostic]) -> [Document.Item] {
            list.map { Document.Item(file: $0.file, pointer: $0.pointer.description, message: $0.message, hint: $0.hint) }
        }
        return JSONOutput.encode(Document(valid: report.isValid, errors: items(report.errors), warnings: items(report.warnings)))
    }
}

/// Stable JSON: sorted keys, pretty-printed, one trailing newline.
enum JSONOutput {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
