import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The programs phoenix runs to completion start in process groups of their own, so that a timeout
/// stops what they started too; that puts them out of the terminal's reach, and Ctrl-C, Ctrl-\ or a
/// hang-up would reach phoenix alone. Passed on here, as coreutils' `timeout` passes them on: each
/// child's group gets the signal, then phoenix ends as the signal would have ended it.
public enum TerminalSignals {
    /// The signals a terminal sends to its foreground process group.
    static let forwarded = [SIGINT, SIGQUIT, SIGHUP]

    /// Passes SIGINT, SIGQUIT and SIGHUP on to the running children from now on; keep the value for
    /// as long as that should hold (the CLI: its whole run). A signal phoenix was started ignoring
    /// (`nohup`, a background job of a script) stays ignored.
    public static func forwardToChildren() -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "phoenix.terminal-signals")
        return forwarded.compactMap { number in
            let previous = signal(number, SIG_IGN)
            guard unsafeBitCast(previous, to: Int.self) != unsafeBitCast(SIG_IGN, to: Int.self) else { return nil }
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                for group in childGroups() { kill(-group, number) }
                signal(number, SIG_DFL)
                var unblocked = sigset_t()
                sigemptyset(&unblocked)
                sigaddset(&unblocked, number)
                pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
                raise(number)
            }
            source.resume()
            return source
        }
    }

    /// This process's children that lead process groups of their own (what `ProcessRunner` runs),
    /// from /proc: a child not yet reaped keeps its pid, so none of these is a stranger's.
    static func childGroups() -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = ProcessStat(pid: pid), stat.parent == me, stat.group == pid else { return nil }
            return pid
        }
    }
}
