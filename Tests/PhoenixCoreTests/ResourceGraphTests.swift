import PhoenixEngine
import PhoenixServices
import Testing

@testable import PhoenixCore

@Suite("The resource graph: every resource of a run and what it needs first, from the configuration's data")
struct ResourceGraphTests {
    static func estate(ingress: Int? = nil) throws -> Estate {
        var hypervisor = TestEstate.hypervisor
        if let ingress {
            hypervisor = hypervisor.replacingOccurrences(of: #""domain_name""#, with: #""phoenix": {"ingress_guest": \#(ingress)}, "domain_name""#)
        }
        let lxc = TestEstate.containers(
            TestEstate.container(101, "Nginx-Phoenix", ip: "10.0.0.10/24", extra: #""firewall": {"enabled": true, "rules": []}"#),
            TestEstate.container(102, "Traefik-Internal", ip: "10.0.0.12/24"),
            TestEstate.container(103, "Traefik-Spare", ip: "10.0.0.13/24"))
        let result = TestEstate.load(hypervisor: hypervisor, lxc: lxc)
        return try #require(result.estate, "\(result.report.summary)")
    }

    static func graph(_ estate: Estate, _ stages: [SyncStage], api: Bool = false) -> ResourceGraph {
        var options = KindOptions()
        options[FirewallThroughAPI.self] = api
        options[FileGraphInputs.self].nodeName = "pve9"
        return KindRegistry.standard.graph(estate: estate, stages: stages, options: options)
    }

    @Test("the gateway's files need the Traefik resources of the ingress they proxy to, a guest's files need its settings")
    func edges() throws {
        let graph = Self.graph(try Self.estate(), KindRegistry.standard.stages)
        #expect(graph.node("gateway:site")?.dependsOn == ["guest:101", "services:traefik-dynamic", "services:traefik-static"])
        #expect(graph.node("services:traefik-dynamic")?.dependsOn == ["guest:102"])
        #expect(graph.node("services:traefik-dynamic")?.target == .guest(102))
        #expect(graph.node("firewall:guest/101")?.dependsOn == [], "a .fw file lives on the host")
        #expect(graph.node("firewall:guest/101")?.kind == "file")
        // The file stages a run converges after the guests (FilesRunner) are those with a file that needs a guest.
        let afterGuests = Set(graph.nodes.filter { $0.kind == "file" && $0.dependsOn.contains { $0.hasPrefix("guest:") } }.map(\.stage))
        #expect(afterGuests == [.services, .gateway])
        #expect(graph.node("dns:records")?.dependsOn == [])
        #expect(graph.node("guest:103")?.stage == .guests)
        let order = graph.order
        #expect(order.count == graph.nodes.count && graph.cycle.isEmpty)
        #expect(try #require(order.firstIndex(of: "services:traefik-static")) < #require(order.firstIndex(of: "gateway:stream")))
    }

    @Test("moving the ingress to another guest moves the Traefik resources and their edge to that guest's settings")
    func ingressMoves() throws {
        let moved = Self.graph(try Self.estate(ingress: 103), KindRegistry.standard.stages)
        #expect(moved.node("services:traefik-dynamic")?.target == .guest(103))
        #expect(moved.node("services:traefik-dynamic")?.dependsOn == ["guest:103"])
        #expect(moved.node("gateway:site")?.dependsOn.contains("services:traefik-dynamic") == true)
    }

    @Test("dependencies on stages outside the run are dropped; through the API the firewall's rule sets are their own kind")
    func scopeAndKinds() throws {
        let estate = try Self.estate()
        let gatewayOnly = Self.graph(estate, [.gateway])
        #expect(gatewayOnly.nodes.map(\.id) == ["gateway:site", "gateway:stream"])
        #expect(gatewayOnly.node("gateway:site")?.dependsOn == [])
        let api = Self.graph(estate, [.guests, .firewall], api: true)
        #expect(api.nodes.filter { $0.stage == .firewall }.map(\.kind) == ["firewall-rules", "firewall-rules"], "\(api.nodes.map(\.id))")
        #expect(api.node("firewall:guest/101")?.dependsOn == ["guest:101"])
        #expect(api.node("firewall:host") == nil, "host.fw is a file; the API mode converges the cluster's and the guests' rule sets")
    }

    @Test("the critical path is the longest chain of costs")
    func criticalPath() {
        let graph = ResourceGraph(nodes: [
            ResourceNode(id: "a", kind: "t", stage: .dns, target: .host),
            ResourceNode(id: "b", kind: "t", stage: .dns, target: .host, dependsOn: ["a"]),
            ResourceNode(id: "c", kind: "t", stage: .dns, target: .host, dependsOn: ["b", "missing"]),
            ResourceNode(id: "d", kind: "t", stage: .dns, target: .host),
        ])
        #expect(graph.node("c")?.dependsOn == ["b"], "an edge to a resource outside the graph is dropped")
        #expect(graph.criticalPath { _ in 2 } == 6)
        #expect(graph.dependents(of: "a") == ["b"])
    }
}
