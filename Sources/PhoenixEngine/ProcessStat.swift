import Foundation

/// The fields of `/proc/<pid>/stat` phoenix reads: state, parent and process group.
public struct ProcessStat: Sendable, Equatable {
    public let pid: pid_t
    /// `R`, `S`, `D`, `Z` (exited, not yet reaped) …
    public let state: Character
    public let parent: pid_t
    public let group: pid_t

    /// The process as /proc shows it now; nil when there is no such process (or no /proc).
    public init?(pid: pid_t) {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        self.init(stat: String(decoding: raw, as: UTF8.self))
    }

    /// Parses a stat line: `pid (command) state ppid pgrp …`, the command possibly holding spaces
    /// and parentheses of its own (hence the last `)`).
    public init?(stat: String) {
        guard let close = stat.lastIndex(of: ")"), let pid = pid_t(stat.prefix { $0 != " " }) else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 3, let state = fields[0].first, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        self.pid = pid
        self.state = state
        self.parent = parent
        self.group = group
    }
}
