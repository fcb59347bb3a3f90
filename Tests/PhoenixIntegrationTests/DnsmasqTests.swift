import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

/// The rendered DNS view, served by the real dnsmasq (Debian's package) on 127.0.0.1 and a free port.
@Suite("The DNS view in a real dnsmasq", .serialized, .needs(.dnsmasq, .dig))
struct DnsmasqTests {
    @Test("passes dnsmasq --test, answers every record, and picks up a record change on SIGHUP without a restart")
    func serves() throws {
        let dnsmasq = try realProgram("dnsmasq")
        let dig = try realProgram("dig")
        let work = try TemporaryDirectory("phoenix-dns")
        let port = FreePort.allocate()
        let estate = try PatchedEstate(hypervisor: { root in
            var dns = root["dns_server"] as! [String: Any]
            dns["listen_addresses"] = ["127.0.0.1"]
            dns["port"] = port
            dns["records_file"] = work.file("phoenix.hosts")
            dns["config_file"] = work.file("00-phoenix.conf")
            root["dns_server"] = dns
        })
        let (loaded, output) = try estate.render([.dns])
        let config = try output.file(work.file("00-phoenix.conf"))
        try install(config)
        try install(try output.file(work.file("phoenix.hosts")))

        let check = try Command.run(dnsmasq, ["--test", "--conf-file=\(config.path)"])
        #expect(check.status == 0, "dnsmasq --test: \(check.stderr)")
        #expect(check.stderr.contains("syntax check OK"))

        let server = try RunningProcess(
            dnsmasq, ["--conf-file=\(config.path)", "--keep-in-foreground", "--no-hosts", "--pid-file=\(work.file("dnsmasq.pid"))", "--log-facility=-"],
            logFile: work.file("dnsmasq.log"))
        defer { server.stop() }
        func query(_ name: String) throws -> String {
            try Command.run(dig, ["+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", String(port), name, "A"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try waitUntil { try query("traefik.lab.example.net") == "10.77.0.12" }, "dnsmasq did not answer: \(server.log)")

        let records = DNSView(estate: loaded).records
        #expect(records.count >= 10)
        for record in records {
            #expect(try query(record.name.text) == record.address.description, "\(record.name)")
        }
        #expect(try query("grafana.lab.example.net") == "10.77.0.12", "a service name resolves to the ingress")
        #expect(try query("swarm-apps-agent.lab.example.net") == "10.77.0.52", "the agent name resolves to its VM")
        let missing = try Command.run(dig, ["+time=2", "+tries=1", "@127.0.0.1", "-p", String(port), "nothing.lab.example.net", "A"]).stdout
        #expect(missing.contains("NXDOMAIN"), "names in the local domain are never forwarded upstream")

        // A record change is a records-file change: SIGHUP is enough, the process stays the same.
        try work.write("phoenix.hosts", "10.77.0.99 grafana.lab.example.net\n")
        server.signal(SIGHUP)
        #expect(try waitUntil { try query("grafana.lab.example.net") == "10.77.0.99" }, "\(server.log.suffix(1500))")
        #expect(server.isRunning)
    }
}
