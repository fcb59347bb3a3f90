import Foundation

/// A process as `/proc/<pid>/stat` shows it: its state, parent and process group.
public struct ProcessStat: Sendable, Equatable {
    public let pid: pid_t
    /// The program's name as the kernel keeps it (at most 15 characters).
    public let command: String
    /// `R`, `S`, `D`, `T` (stopped), `Z` (exited, not yet reaped) …
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
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"), open < close,
            let pid = pid_t(stat.prefix { $0 != " " })
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 3, let state = fields[0].first, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        self.pid = pid
        self.command = String(stat[stat.index(after: open)..<close])
        self.state = state
        self.parent = parent
        self.group = group
    }

    /// Where the process sleeps in the kernel (`/proc/<pid>/wchan`: `pipe_read`, `do_wait` …); nil
    /// when it runs or the kernel does not say.
    public var waitChannel: String? {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/wchan") else { return nil }
        let channel = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return channel.isEmpty || channel == "0" ? nil : channel
    }

    /// Every process of process group `group` now, in pid order.
    public static func members(of group: pid_t) -> [ProcessStat] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.sorted()
        return pids.compactMap { ProcessStat(pid: $0) }.filter { $0.group == group }
    }

    /// `pid command state[ in wchan]`: a line for an error saying what a program was doing.
    public var summary: String {
        "\(pid) \(command) \(state)" + (waitChannel.map { " in \($0)" } ?? "")
    }
}
