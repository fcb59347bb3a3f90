import Testing

@testable import PhoenixCore

@Suite("Cross-checks between files")
struct CrossCheckTests {
    @Test("an id used by an LXC and a VM is an error")
    func sharedID() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(TestEstate.container(101, "a", ip: "10.0.0.3/24")),
            vm: #"{"vms": [{"vmid": 101, "name": "b", "network_config": {"ip": "10.0.0.4/24"}}]}"#
        ).report
        #expect(report.hasError("vm.json", "/vms/0/vmid", containing: "used by an LXC and a VM"), "\(report.summary)")
    }

    @Test("two guests with one static address is an error")
    func sharedAddress() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(TestEstate.container(101, "a", ip: "10.0.0.3/24"), TestEstate.container(102, "b", ip: "10.0.0.3/16"))
        ).report
        #expect(report.hasError("lxc.json", "/lxc_configs/102/network_config/ip", containing: "already used by guest 101"), "\(report.summary)")
    }

    @Test("a traefik_service on a guest without a static address is an error")
    func serviceWithoutAddress() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(
                TestEstate.container(102, "Traefik-Internal", ip: "10.0.0.12/24"),
                TestEstate.container(110, "app", ip: "dhcp", extra: #""traefik_service": {"name": "app", "port": 80}"#))
        ).report
        #expect(report.hasError("lxc.json", "/lxc_configs/110/traefik_service", containing: "has no static address"), "\(report.summary)")
    }

    @Test("one name with two addresses at the same precedence is an error")
    func sameKindConflict() {
        let report = TestEstate.load(
            vm: #"""
                {"vms": [{"vmid": 1001, "name": "a", "network_config": {"ip": "10.0.0.5/24"}, "portainer_agent_hostname": "agent.lab.test"},
                         {"vmid": 1002, "name": "b", "network_config": {"ip": "10.0.0.6/24"}, "portainer_agent_hostname": "agent.lab.test"}]}
                """#
        ).report
        #expect(report.hasError("vm.json", "/vms/1", containing: "claimed twice as a Portainer agent name"), "\(report.summary)")
    }

    @Test("a dependency cycle is named")
    func cycle() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(
                TestEstate.container(101, "a", ip: "10.0.0.3/24", extra: #""dependencies": ["102"]"#),
                TestEstate.container(102, "b", ip: "10.0.0.4/24", extra: #""dependencies": ["103"]"#),
                TestEstate.container(103, "c", ip: "10.0.0.5/24", extra: #""dependencies": ["101"]"#))
        ).report
        #expect(report.hasError("lxc.json", "/lxc_configs/101", containing: "dependency cycle: 101 → 102 → 103 → 101"), "\(report.summary)")
    }

    @Test("an optional edge breaks no cycle rule when its target is disabled")
    func optionalDisabled() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(
                TestEstate.container(101, "a", ip: "10.0.0.3/24", extra: #""dependencies": [{"id": "102", "optional": true}]"#),
                TestEstate.container(102, "b", ip: "10.0.0.4/24", extra: #""enabled": false, "dependencies": ["101"]"#))
        ).report
        #expect(report.isValid, "\(report.summary)")
    }

    @Test("unknown references are errors: dependency, clone source, certificate guest, listed stack")
    func unknownReferences() {
        let report = TestEstate.load(
            lxc: TestEstate.containers(TestEstate.container(101, "a", ip: "10.0.0.3/24", extra: #""dependencies": ["999"], "clone_from_ctid": "900""#)),
            vm: #"{"vms": [{"vmid": 1001, "name": "m", "network_config": {"ip": "10.0.0.9/24"}, "docker_stacks": ["ghost", "nocompose", "noenv"]}]}"#,
            stacks: #"{"docker_stacks": {"nocompose": {"environments": {"production": {}}}, "noenv": {"environments": {"testing": {}}}}}"#,
            manifest: #"[{"common_name": "x.lab.test", "guest_id": 4242, "cert_path": "/c", "key_path": "/k"}]"#,
            compose: ["noenv": "services: {}\n"]
        ).report
        #expect(report.hasError("lxc.json", "/lxc_configs/101/dependencies/0", containing: "999 is not defined"))
        #expect(report.hasError("lxc.json", "/lxc_configs/101/clone_from_ctid", containing: "900 is not defined"))
        #expect(report.hasError("certs.json", "/0/guest_id", containing: "4242, which is not defined"))
        #expect(report.hasError("vm.json", "/vms/0/docker_stacks/0", containing: "not defined"))
        #expect(report.hasError("vm.json", "/vms/0/docker_stacks/1", containing: "no compose file"))
        #expect(report.hasError("vm.json", "/vms/0/docker_stacks/2", containing: "no environment \"production\""), "\(report.summary)")
    }
}

@Suite("The guest graph")
struct GraphTests {
    static let lxc = TestEstate.containers(
        TestEstate.container(900, "tpl", ip: "dhcp", extra: #""is_template": true"#),
        TestEstate.container(103, "ca", ip: "10.0.0.11/24", extra: #""clone_from_ctid": "900", "boot_order": 1"#),
        TestEstate.container(102, "proxy", ip: "10.0.0.12/24", extra: #""clone_from_ctid": "900", "dependencies": ["103"], "boot_order": 2"#),
        TestEstate.container(
            110, "app", ip: "10.0.0.20/24",
            extra: #"""
                "clone_from_ctid": "900", "boot_order": 1,
                "dependencies": [{"id": "120", "optional": true}, {"id": "102", "when": {"verbs": ["start"]}}, {"id": "103", "when": {"setting": "/dns_server/enabled", "equals": false}}]
                """#))
    static let vm = #"""
        {"vms": [{"vmid": 9000, "name": "vmtpl", "is_template": true},
                 {"vmid": 1002, "name": "late", "clone_from_vmid": 9000, "network_config": {"ip": "10.0.0.52/24"}, "boot_order": 9},
                 {"vmid": 1001, "name": "early", "clone_from_vmid": 9000, "network_config": {"ip": "10.0.0.51/24"}, "boot_order": 0}]}
        """#

    func estate() throws -> Estate {
        let result = TestEstate.load(lxc: Self.lxc, vm: Self.vm)
        #expect(result.report.isValid, "\(result.report.summary)")
        return try #require(result.estate)
    }

    @Test("start never starts templates and walks dependencies first, boot_order breaking ties for VMs too")
    func start() throws {
        let graph = GuestGraph(estate: try estate(), verb: .start)
        #expect(graph.order == [1001, 103, 102, 110, 1002])
    }

    @Test("stop walks the order backwards, with the edges that hold for stop (110 → 102 is start-only)")
    func stop() throws {
        #expect(GuestGraph(estate: try estate(), verb: .stop).order == [1002, 102, 110, 103, 1001])
    }

    @Test("create follows clone edges: templates first")
    func create() throws {
        let order = GuestGraph(estate: try estate(), verb: .create).order
        #expect(order.firstIndex(of: 900)! < order.firstIndex(of: 103)!)
        #expect(order.firstIndex(of: 9000)! < order.firstIndex(of: 1001)!)
        #expect(Set(order) == [900, 9000, 103, 102, 110, 1001, 1002])
    }

    @Test("starting a clone never starts its template, and says why the clone edge is dropped")
    func cloneTargets() throws {
        let graph = GuestGraph(estate: try estate(), verb: .start, targets: [110])
        #expect(graph.order == [103, 102, 110])
        let clone = try #require(graph.edges.first { $0.from == 110 && $0.kind == .clone })
        #expect(!clone.active)
        #expect(clone.reason.contains("create only"))
    }

    @Test("optional and conditional edges are dropped with a reason")
    func reasons() throws {
        let start = GuestGraph(estate: try estate(), verb: .start)
        let create = GuestGraph(estate: try estate(), verb: .create)
        func edge(_ graph: GuestGraph, _ to: Int) -> GuestGraph.Edge? { graph.edges.first { $0.from == 110 && $0.to == to && $0.kind == .dependency } }
        #expect(edge(start, 120)?.active == false)
        #expect(edge(start, 120)?.reason == "optional: 120 is not defined")
        #expect(edge(start, 102)?.active == true)
        #expect(edge(create, 102)?.active == false)
        #expect(edge(create, 102)?.reason.contains("does not include create") == true)
        #expect(edge(start, 103)?.active == false)
        #expect(edge(start, 103)?.reason == "when.setting /dns_server/enabled is true, not false")
    }

    @Test("stop of one guest also stops what needs it, first")
    func stopTargets() throws {
        #expect(GuestGraph(estate: try estate(), verb: .stop, targets: [103]).order == [102, 103])
    }
}
