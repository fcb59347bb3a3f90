import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixTesting
import Testing

/// A dns + gateway sync killed at every failpoint (PHOENIX_FAILPOINT, honoured only when set), with
/// the real dnsmasq and nginx of a SyncLab.
@Suite("Crashes during a sync", .serialized, .needs(.syncLab))
struct CrashTests {
    static let failpoints = ["dns:records", "dns:settings", "gateway:site", "gateway:stream"].flatMap { ["\($0):before", "\($0):after"] }

    @Test("after a crash at any failpoint nothing is half-written, the old configuration serves, and the next run converges")
    func crashAtEveryFailpoint() throws {
        let lab = try SyncLab.make()
        let version1 = try lab.configCopy("etc-v1")
        let version2 = try lab.configCopy("etc-v2")
        let newStream = FreePort.allocate()
        // Version 2 changes all four resources: a new guest (records), an upstream (settings), the HTTPS
        // port (site) and the stream port (stream).
        try lab.edit("phoenix_lxc_configs.json", in: version2) { root in
            var configs = root["lxc_configs"] as! [String: Any]
            configs["120"] = ["name": "wiki", "network_config": ["ip": "10.77.0.30/24"]]
            root["lxc_configs"] = configs
        }
        try lab.edit("phoenix_hypervisor_config.json", in: version2) { root in
            var dns = root["dns_server"] as! [String: Any]
            dns["upstream_servers"] = ["9.9.9.9", "1.1.1.1"]
            root["dns_server"] = dns
            var phoenix = root["phoenix"] as! [String: Any]
            var gateway = phoenix["gateway"] as! [String: Any]
            gateway["https_listen"] = "127.0.0.1:\(FreePort.allocate())"
            gateway["stream_listen"] = "127.0.0.1:\(newStream)"
            phoenix["gateway"] = gateway
            root["phoenix"] = phoenix
        }
        let files = [lab.recordsFile, lab.host + "/etc/dnsmasq.d/00-phoenix.conf", lab.siteFile, lab.streamFile]
        func contents() -> [String] { files.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "<absent>" } }

        // What each version installs, for comparing whole files.
        #expect(try lab.phoenix(["sync", "dns", "gateway"], config: version2).status == 0)
        let installed2 = contents()
        #expect(try lab.phoenix(["sync", "dns", "gateway"], config: version1).status == 0)
        let installed1 = contents()
        #expect(installed1.count == 4 && !installed1.contains("<absent>") && !installed2.contains("<absent>"), "both versions install every file")
        #expect(zip(installed1, installed2).allSatisfy { $0 != $1 }, "version 2 changes every file")

        for failpoint in Self.failpoints {
            let crashed = try lab.phoenix(["sync", "dns", "gateway"], config: version2, environment: ["PHOENIX_FAILPOINT": "\(failpoint):crash"])
            #expect(crashed.status == 86, "\(failpoint): \(crashed.stdout)\(crashed.stderr)")
            let now = contents()
            for (index, file) in now.enumerated() {
                #expect(file == installed1[index] || file == installed2[index], "\(failpoint): \(files[index]) is neither version")
            }
            // The crashed unit's files (dns: records and settings; gateway: site and stream), all
            // staged before any goes live: a crash before leaves the old ones, after the new ones.
            let unitFiles = failpoint.hasPrefix("dns:") ? [0, 1] : [2, 3]
            let expected = failpoint.hasSuffix(":before") ? installed1 : installed2
            for index in unitFiles {
                #expect(now[index] == expected[index], "\(failpoint): \(files[index]) holds the \(failpoint.hasSuffix(":before") ? "old" : "new") version")
            }
            // The crashed unit's service was not reloaded onto its unverified files: its old configuration still
            // serves. (The other unit runs concurrently and may have converged before the crash.)
            if failpoint.hasPrefix("dns:") {
                #expect(lab.resolve("wiki.lab.example.net").isEmpty, "\(failpoint): dnsmasq was not reloaded")
                #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!], "\(failpoint): dnsmasq still serves")
            } else {
                #expect(!Probe.connects(to: IPv4Address("127.0.0.1")!, port: newStream, timeout: 1), "\(failpoint): nginx was not reloaded")
            }
            #expect(lab.gateway() == "301 https://grafana.lab.example.net/x", "\(failpoint): the gateway still serves")

            let next = try lab.phoenix(["sync", "dns", "gateway"], config: version2)
            #expect(next.status == 0, "\(failpoint): \(next.stdout)\(next.stderr)")
            #expect(next.stdout.contains("was interrupted"), "\(failpoint): the next run reports the interrupted one: \(next.stdout)")
            #expect(contents() == installed2, "\(failpoint)")
            #expect(lab.resolve("wiki.lab.example.net") == [IPv4Address("10.77.0.30")!], "\(failpoint)")
            #expect(Probe.connects(to: IPv4Address("127.0.0.1")!, port: newStream, timeout: 2), "\(failpoint)")
            #expect(lab.leftovers().isEmpty, "\(failpoint): \(lab.leftovers())")
            #expect(try lab.phoenix(["plan", "dns", "gateway", "--detailed-exitcode"], config: version2).status == 0, "\(failpoint)")

            #expect(try lab.phoenix(["sync", "dns", "gateway"], config: version1).status == 0, "\(failpoint): back to version 1 for the next round")
        }
        let history = try lab.phoenix(["history", "--limit", "100"]).stdout
        #expect(history.components(separatedBy: "interrupted").count - 1 >= Self.failpoints.count, "\(history)")
    }

    @Test("a firewall change phoenix never confirms is reverted by the host itself, and a confirmed one stays")
    func firewallRevertsByItself() throws {
        let lab = try SyncLab.make()
        let reloaded = lab.directory.file("run/firewall-reloaded")
        try lab.edit("phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var services = phoenix["services"] as! [String: Any]
            services["pve-firewall"] = ["test": [], "reload": ["touch", reloaded], "restart": []]
            phoenix["services"] = services
            root["phoenix"] = phoenix
        }
        #expect(try lab.phoenix(["sync", "firewall", "--firewall-revert", "2"]).status == 0)
        let cluster = lab.host + "/etc/pve/firewall/cluster.fw"
        func changeRules(_ comment: String) throws {
            try lab.edit("phoenix_hypervisor_config.json") { root in
                var firewall = root["firewall"] as! [String: Any]
                var rules = firewall["global_firewall_rules"] as! [[String: Any]]
                rules[0]["comment"] = comment
                firewall["global_firewall_rules"] = rules
                root["firewall"] = firewall
            }
        }
        // Confirmed: after the revert delay has passed, the new rules are still there.
        try changeRules("confirmed")
        #expect(try lab.phoenix(["sync", "firewall", "--firewall-revert", "2"]).status == 0)
        // The revert armed for this change (`sh -c … phoenix-firewall-revert <marker> 2 …`, detached)
        // has slept its 2 s and found the marker gone.
        let marker = lab.host + "/run/phoenix-firewall-revert"
        try waitFor("the armed revert to finish", detail: { "still running: \(Processes.matching(marker))" }) { Processes.matching(marker).isEmpty }
        let version2 = try String(contentsOfFile: cluster, encoding: .utf8)
        #expect(version2.contains("# confirmed"))
        #expect(!FileManager.default.fileExists(atPath: cluster + ".phoenix-prev"))
        #expect(!FileManager.default.fileExists(atPath: lab.host + "/run/phoenix-firewall-revert"))

        // Never confirmed: phoenix dies with the new rules live; the host puts the previous ones back.
        try changeRules("never confirmed")
        try? FileManager.default.removeItem(atPath: reloaded)
        let crashed = try lab.phoenix(
            ["sync", "firewall", "--firewall-revert", "2"], environment: ["PHOENIX_FAILPOINT": "firewall:cluster:after:crash"])
        #expect(crashed.status == 86, "\(crashed.stdout)\(crashed.stderr)")
        #expect(try String(contentsOfFile: cluster, encoding: .utf8).contains("# never confirmed"), "the new rules went live")
        #expect(waitUntil(timeout: 10) { (try? String(contentsOfFile: cluster, encoding: .utf8)) == version2 }, "the host reverted by itself")
        #expect(waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: reloaded) }, "and reloaded the firewall")
        #expect(!FileManager.default.fileExists(atPath: lab.host + "/run/phoenix-firewall-revert"))
        let next = try lab.phoenix(["sync", "firewall", "--firewall-revert", "2"])
        #expect(next.status == 0)
        #expect(try String(contentsOfFile: cluster, encoding: .utf8).contains("# never confirmed"), "the next run applies and confirms it")
    }
}

@Suite("Verifications that cannot run are failures (real dnsmasq resolving the management endpoint)", .needs(.syncLab))
struct SilentCheckTests {
    @Test("the management endpoint given by name is resolved through the estate's dnsmasq and probed; one that does not answer restores the rules")
    func managementEndpointByName() throws {
        let lab = try SyncLab.make()
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        #expect(lab.resolve("traefik-internal.lab.example.net") == [IPv4Address("127.0.0.1")!], "the name the endpoint uses is served by the lab's dnsmasq")
        func endpoint(_ value: String, comment: String) throws {
            try lab.edit("phoenix_hypervisor_config.json") { root in
                var phoenix = root["phoenix"] as! [String: Any]
                phoenix["management_endpoint"] = value
                root["phoenix"] = phoenix
                var firewall = root["firewall"] as! [String: Any]
                var rules = firewall["global_firewall_rules"] as! [[String: Any]]
                rules[0]["comment"] = comment
                firewall["global_firewall_rules"] = rules
                root["firewall"] = firewall
            }
        }
        let cluster = lab.host + "/etc/pve/firewall/cluster.fw"
        try endpoint("traefik-internal.lab.example.net:\(lab.ports["management"]!)", comment: "first")
        let answered = try lab.phoenix(["sync", "firewall", "--firewall-revert", "4"])
        #expect(answered.status == 0, "\(answered.stdout)\(answered.stderr)")
        let confirmed = try String(contentsOfFile: cluster, encoding: .utf8)
        #expect(confirmed.contains("# first"))

        // The same name on a port nothing listens on: the check runs, fails, and the rules come back.
        try endpoint("traefik-internal.lab.example.net:\(FreePort.allocate())", comment: "second")
        let refused = try lab.phoenix(["sync", "firewall", "--firewall-revert", "4"])
        #expect(refused.status == 1, "\(refused.stdout)")
        #expect(refused.stdout.contains("does not accept connections"), "\(refused.stdout)")
        #expect(refused.stdout.contains("the previous files are back in place"), "\(refused.stdout)")
        #expect(try String(contentsOfFile: cluster, encoding: .utf8) == confirmed)

        // A name nobody knows is a failure too, never a success.
        try endpoint("nowhere.lab.example.net:\(lab.ports["management"]!)", comment: "third")
        let unknown = try lab.phoenix(["sync", "firewall", "--firewall-revert", "4"])
        #expect(unknown.status == 1, "\(unknown.stdout)")
        #expect(unknown.stdout.contains("nowhere.lab.example.net does not resolve"), "\(unknown.stdout)")
        #expect(try String(contentsOfFile: cluster, encoding: .utf8) == confirmed)
    }

    @Test("a gateway with no address to probe fails its verification unless verify is turned off, which plan and sync warn about")
    func noAddressToProbe() throws {
        let lab = try SyncLab.make()
        // The gateway guest gets its address from DHCP (no second interface) and its listen addresses lose
        // their host: nothing to probe. nginx is never reloaded here, so it never binds those ports on
        // every interface, and nothing is sent anywhere but loopback.
        try lab.edit("phoenix_lxc_configs.json") { root in
            var configs = root["lxc_configs"] as! [String: Any]
            var gateway = configs["101"] as! [String: Any]
            gateway["secondary_network_config"] = nil
            configs["101"] = gateway
            root["lxc_configs"] = configs
        }
        try lab.editGateway { gateway in
            for key in ["http_listen", "https_listen", "stream_listen"] {
                gateway[key] = String((gateway[key] as! String).split(separator: ":").last!)
            }
        }
        try lab.edit("phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var services = phoenix["services"] as! [String: Any]
            var nginx = services["nginx"] as! [String: Any]
            nginx["reload"] = []
            nginx["restart"] = []
            services["nginx"] = nginx
            phoenix["services"] = services
            root["phoenix"] = phoenix
        }
        let failed = try lab.phoenix(["sync", "gateway"])
        #expect(failed.status == 1, "\(failed.stdout)")
        #expect(failed.stdout.contains("no address to probe for phoenix.gateway.http_listen"), "\(failed.stdout)")
        #expect(!FileManager.default.fileExists(atPath: lab.siteFile), "the unverified site was taken back")

        try lab.edit("phoenix_hypervisor_config.json") { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var services = phoenix["services"] as! [String: Any]
            var nginx = services["nginx"] as! [String: Any]
            nginx["verify"] = false
            services["nginx"] = nginx
            phoenix["services"] = services
            root["phoenix"] = phoenix
        }
        let warning = "warning: phoenix.services.nginx.verify is false"
        let plan = try lab.phoenix(["plan", "gateway"])
        #expect(plan.status == 0 && plan.stdout.contains(warning), "\(plan.stdout)")
        let synced = try lab.phoenix(["sync", "gateway"])
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        #expect(synced.stdout.contains(warning), "\(synced.stdout)")
        #expect(FileManager.default.fileExists(atPath: lab.siteFile))
        let again = try lab.phoenix(["sync", "gateway"])
        #expect(again.stdout.contains(warning), "every time, a no-op too: \(again.stdout)")
    }
}
