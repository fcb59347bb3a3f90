import Foundation
import Logging
import PhoenixCore

/// The agent's log on stderr, one event a line: `--log-format text` (time, level, message,
/// metadata as key=value) or `json` (one object a line). What reaches it never holds a secret:
/// the agent logs only what its types describe, and those redact.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let format: Format
    let write: @Sendable (String) -> Void

    public init(label: String, format: Format, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.format = format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let time = Date().formatted(.iso8601)
        switch format {
        case .text:
            let extra = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            write("\(time) \(event.level) \(Self.oneLine(event.message.description))\(extra)\n")
        case .json:
            var members: [(key: String, value: JSONValue)] = [
                ("time", .string(time)), ("level", .string(event.level.rawValue)), ("logger", .string(label)),
                ("message", .string(event.message.description)),
            ]
            for (key, value) in all.sorted(by: { $0.key < $1.key }) { members.append((key, .string(value.description))) }
            write(JSONWriter(sortedKeys: false, pretty: false).string(.object(members)) + "\n")
        }
    }

    /// A message from elsewhere (git, a server) may hold line breaks: one event stays one line.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }
}
