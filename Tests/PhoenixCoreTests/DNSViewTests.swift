import Foundation
import Testing

@testable import PhoenixCore

@Suite("The DNS view")
struct DNSViewTests {
    static let lxc = TestEstate.containers(
        TestEstate.container(102, "Traefik-Internal", ip: "10.0.0.12/24"),
        TestEstate.container(101, "Nginx-Phoenix", ip: "dhcp", extra: #""secondary_network_config": {"ip": "10.0.0.10/24"}"#),
        TestEstate.container(103, "Step-CA", ip: "10.0.0.11/24", extra: #""traefik_service": {"name": "ca", "port": 9000}"#),
        TestEstate.container(900, "tpl", ip: "10.0.0.200/24", extra: #""is_template": true"#),
        TestEstate.container(120, "dyn", ip: "dhcp"))
    static let vm = #"""
        {"vms": [{"vmid": 1002, "name": "worker", "network_config": {"ip": "10.0.0.102/24"}, "portainer_agent_hostname": "worker-agent.lab.test",
                  "traefik_service": {"name": "worker-agent", "port": 9001}}]}
        """#

    func records() throws -> [String: String] {
        let result = TestEstate.load(lxc: Self.lxc, vm: Self.vm)
        let view = DNSView(estate: try #require(result.estate))
        return Dictionary(uniqueKeysWithValues: view.records.map { ($0.name.text, $0.address.description) })
    }

    @Test("agent names resolve to the VM itself, service names to the ingress, self names to the guest")
    func kinds() throws {
        let records = try records()
        #expect(records["worker-agent.lab.test"] == "10.0.0.102")
        // The CA's service name resolves to the CA guest (103), never to Traefik: a client pinning
        // the CA's root must reach step-ca's own TLS (the original's defect).
        #expect(records["ca.lab.test"] == "10.0.0.11")
        #expect(records["traefik.lab.test"] == "10.0.0.12")
        #expect(records["step-ca.lab.test"] == "10.0.0.11")
        #expect(records["nginx-phoenix.lab.test"] == "10.0.0.10", "a dhcp primary uses the secondary address")
        #expect(records["worker.lab.test"] == "10.0.0.102")
    }

    @Test("templates and guests without a static address get no record")
    func skipped() throws {
        let records = try records()
        #expect(records["tpl.lab.test"] == nil)
        #expect(records["dyn.lab.test"] == nil)
    }

    @Test("when kinds collide the higher wins and a warning says so")
    func precedenceWarning() {
        let report = TestEstate.load(lxc: Self.lxc, vm: Self.vm).report
        #expect(report.isValid)
        #expect(report.warnings.contains { $0.message.contains("worker-agent.lab.test") && $0.message.contains("overridden by the Portainer agent name") })
    }

    @Test("the ingress can be named in configuration")
    func configurableIngress() throws {
        let hypervisor = TestEstate.hypervisor.replacingOccurrences(
            of: #""domain_name": "lab.test","#, with: #""domain_name": "lab.test", "phoenix": {"ingress_guest": 103},"#)
        let estate = try #require(TestEstate.load(hypervisor: hypervisor, lxc: Self.lxc, vm: Self.vm).estate)
        let records = Dictionary(uniqueKeysWithValues: DNSView(estate: estate).records.map { ($0.name.text, $0.address.description) })
        #expect(records["ca.lab.test"] == "10.0.0.11")
    }
}
