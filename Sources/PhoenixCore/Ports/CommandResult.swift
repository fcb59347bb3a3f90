/// The outcome of a program run to completion.
public struct CommandResult: Sendable, Equatable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// The last lines of stderr (else stdout), control characters escaped: for error messages.
    public var excerpt: String {
        let text = stderr.isEmpty ? stdout : stderr
        let lines = text.split(separator: "\n").suffix(6).map { TextRules.printable(String($0)) }
        return lines.isEmpty ? "(no output)" : lines.joined(separator: " | ")
    }
}
