import Foundation
import Synchronization

/// One problem found in the configuration: where it is, what is wrong, and what to do.
public struct Diagnostic: Sendable, Hashable, Comparable {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    public let severity: Severity
    /// The configuration file, as the user named it (relative to where phoenix was pointed).
    public let file: String
    public let pointer: JSONPointer
    public let message: String
    public let hint: String?
    /// The one resource an error leaves out (`cert:app.example`: a manifest entry with a problem of
    /// its own); nil when it concerns the whole configuration.
    public let resource: String?

    public init(_ severity: Severity, file: String, pointer: JSONPointer, message: String, hint: String? = nil, resource: String? = nil) {
        self.severity = severity
        self.file = file
        self.pointer = pointer
        self.message = message
        self.hint = hint
        self.resource = resource
    }

    /// This diagnostic, an error tied to `resource`.
    func tied(to resource: String?) -> Diagnostic {
        Diagnostic(severity, file: file, pointer: pointer, message: message, hint: hint, resource: severity == .error ? resource : nil)
    }

    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        lhs.sortKey.lexicographicallyPrecedes(rhs.sortKey)
    }

    /// File, pointer and message as one byte string (NUL between them): the report's order, computed
    /// once per diagnostic instead of once per comparison. Bytes compare as the texts do for the
    /// ASCII that file names, pointers and messages are written in, without Unicode normalisation.
    var sortKey: [UInt8] {
        var key = Array(file.utf8)
        key.append(0)
        key += pointer.description.utf8
        key.append(0)
        key += message.utf8
        return key
    }

    /// `diagnostics` in the report's order: each key built once.
    static func sorted(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.map { (key: $0.sortKey, diagnostic: $0) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.diagnostic)
    }
}

/// Collects diagnostics while configuration is loaded; nothing is printed by the core. Loading runs
/// on several threads, so appends are locked; the report is sorted, so their order does not matter.
public final class DiagnosticSink: Sendable {
    private let diagnostics = Mutex<[Diagnostic]>([])

    public init() {}

    public var hasErrors: Bool { diagnostics.withLock { $0.contains { $0.severity == .error } } }

    public func error(_ file: String, _ pointer: JSONPointer, _ message: String, hint: String? = nil) {
        append(Diagnostic(.error, file: file, pointer: pointer, message: message, hint: hint))
    }

    public func warning(_ file: String, _ pointer: JSONPointer, _ message: String, hint: String? = nil) {
        append(Diagnostic(.warning, file: file, pointer: pointer, message: message, hint: hint))
    }

    private func append(_ diagnostic: Diagnostic) {
        diagnostics.withLock { $0.append(diagnostic) }
    }

    /// The errors collected so far, in the order they came.
    var errors: [Diagnostic] { diagnostics.withLock { $0.filter { $0.severity == .error } } }

    /// Moves what this sink collected into `other`, the errors tied to `resource` (nil: to the
    /// whole configuration).
    func forward(to other: DiagnosticSink, resource: String?) {
        let moved = diagnostics.withLock { collected in
            defer { collected = [] }
            return collected
        }
        let tied = moved.map { $0.tied(to: resource) }
        other.diagnostics.withLock { $0.append(contentsOf: tied) }
    }

    /// Sorted and de-duplicated, errors and warnings apart.
    public func report() -> ValidationReport {
        let unique = Diagnostic.sorted(Array(Set(diagnostics.withLock { $0 })))
        return ValidationReport(
            errors: unique.filter { $0.severity == .error },
            warnings: unique.filter { $0.severity == .warning }
        )
    }
}

/// The outcome of `phoenix validate`.
public struct ValidationReport: Sendable, Equatable {
    public let errors: [Diagnostic]
    public let warnings: [Diagnostic]
    /// No errors at all: what `validate` says.
    public var isValid: Bool { errors.isEmpty }
    /// Every error, if any, leaves out one resource only: the rest of the estate can be planned
    /// and synced (the resources left out fail there, named).
    public var isUsable: Bool { !errors.contains { $0.resource == nil } }
}
