import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixTesting
import Testing

/// Ctrl-C during a sync: the programs phoenix runs lead process groups of their own (so a timeout
/// kills what they started), out of the terminal's reach; phoenix passes the signal on to them.
@Suite("Interrupting a sync", .serialized, .needs(.syncLab))
struct InterruptTests {
    @Test("SIGINT to phoenix while a service's check runs ends the check and what it started, then phoenix, by that signal")
    func interruptReachesTheCommand() throws {
        let lab = try SyncLab.make()
        let statFile = lab.directory.file("check.stat")
        // The dns stage's check of dnsmasq's configuration hangs, leaving its shell's /proc stat line.
        try lab.edit("phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var services = phoenix["services"] as! [String: Any]
            var dnsmasq = services["dnsmasq"] as! [String: Any]
            dnsmasq["test"] = ["/bin/sh", "-c", "cat /proc/$$/stat > \"$0\"; sleep 30; true", statFile]
            services["dnsmasq"] = dnsmasq
            phoenix["services"] = services
            root["phoenix"] = phoenix
        }
        let argv = try lab.phoenixArgv(["sync", "dns"])
        let phoenix = try RunningProcess(argv[0], Array(argv.dropFirst()), logFile: lab.directory.file("phoenix.log"))
        try waitFor("phoenix to run the check", timeout: 60, detail: { phoenix.log }) {
            !phoenix.isRunning || (try? String(contentsOfFile: statFile, encoding: .utf8))?.hasSuffix("\n") == true
        }
        try #require(phoenix.isRunning, "phoenix ended before its check ran: \(phoenix.log)")
        let check = try #require(ProcessStat(stat: try String(contentsOfFile: statFile, encoding: .utf8)))
        #expect(check.parent == phoenix.pid, "env execs phoenix, whose child the check is")
        #expect(check.group == check.pid, "the check leads a process group of its own")

        phoenix.signal(SIGINT)
        try waitFor("phoenix to end", timeout: 30, detail: { phoenix.log }) { !phoenix.isRunning }
        #expect(phoenix.status == 128 + SIGINT, "phoenix ends by the signal: \(phoenix.log)")
        var left: [ProcessStat] = []
        try waitFor("the check's process group to be gone", detail: { "\(left)" }) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            left = entries.compactMap { pid_t($0).flatMap(ProcessStat.init(pid:)) }.filter {
                $0.group == check.pid && $0.state != "Z" && $0.state != "X"
            }
            return left.isEmpty
        }
    }
}
