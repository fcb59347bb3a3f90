import PhoenixServices
import Testing

@testable import PhoenixCore

@Suite("The Swarm in the configuration: members, daemons, stacks and their resources")
struct SwarmConfigTests {
    static func vm(_ id: Int, _ name: String, ip: String, _ extra: String) -> String {
        #"{"vmid": \#(id), "name": "\#(name)", "network_config": {"ip": "\#(ip)"}, \#(extra)}"#
    }

    static let compose = """
        services:
          web:
            image: lab/web:1
            networks: [traefik-public]
            secrets: [portainer_admin_password, site_key]
        networks:
          traefik-public: {external: true}
        secrets:
          portainer_admin_password: {external: true}
          site_key: {external: true}

        """

    static func load(_ vms: [String], hypervisor: String = TestEstate.hypervisor) -> EstateLoader.Result {
        TestEstate.load(hypervisor: hypervisor, vm: #"{"vms": [\#(vms.joined(separator: ","))]}"#, compose: ["web": compose])
    }

    @Test("daemons default to the original's layout: tcp://<vm ip>:2376 with /etc/docker/tls; phoenix.docker overrides")
    func defaults() throws {
        let vms = [
            Self.vm(
                1001, "m1", ip: "10.0.0.111/24",
                #""swarm_role": "manager", "portainer_role": "primary", "node_labels": ["role=edge"], "docker_stacks": ["web"]"#),
            Self.vm(1002, "w1", ip: "10.0.0.112/24", #""swarm_role": "worker", "node_labels": ["gpu=false", "role=apps"]"#),
        ]
        let estate = try #require(Self.load(vms).estate)
        let desired = SwarmDesired(estate: estate)
        #expect(desired.manager?.endpoint == "tcp://10.0.0.111:2376" && desired.manager?.advertise == "10.0.0.111")
        #expect(desired.workers.map(\.labels) == [["gpu": "false", "role": "apps"]])
        #expect(estate.settings.docker.tls?.certFile == "/etc/docker/tls/cert.pem")
        #expect(desired.stacks.map(\.namespace) == ["production_web"])
        #expect(desired.networks == ["traefik-public": ["web"]])
        #expect(Set(desired.secrets.keys) == ["portainer_admin_password", "site_key"])

        let hypervisor = TestEstate.hypervisor.replacingOccurrences(
            of: #""domain_name""#,
            with:
                #""phoenix": {"stack_environment": "staging", "docker": {"endpoints": {"1001": "unix:///run/d.sock"}, "tls": false, "port": 2375}}, "domain_name""#
        )
        let other = try #require(Self.load(vms, hypervisor: hypervisor).estate)
        let moved = SwarmDesired(estate: other)
        #expect(moved.manager?.endpoint == "unix:///run/d.sock" && moved.workers.first?.endpoint == "tcp://10.0.0.112:2375")
        #expect(other.settings.docker.tls == nil)
        #expect(moved.stacks.first?.resourceID == "stack:staging/web" && moved.stacks.first?.namespace == "staging_web")
    }

    @Test("the resources: a worker's node needs the manager's; a stack needs the swarm, its networks and its secrets")
    func resources() throws {
        let vms = [
            Self.vm(1001, "m1", ip: "10.0.0.111/24", #""swarm_role": "manager", "portainer_role": "primary", "docker_stacks": ["web"]"#),
            Self.vm(1002, "w1", ip: "10.0.0.112/24", #""swarm_role": "worker""#),
        ]
        let estate = try #require(Self.load(vms).estate)
        let graph = ResourceGraph(context: ResourceGraphContext(estate: estate, stages: Set(KindRegistry.standard.stages)), kinds: KindRegistry.standard.kinds)
        #expect(graph.node("swarm:node/m1")?.dependsOn == ["guest:1001"])
        #expect(graph.node("swarm:node/w1")?.dependsOn == ["guest:1002", "swarm:node/m1"])
        #expect(graph.node("swarm:network/traefik-public")?.dependsOn == ["swarm:node/m1"])
        #expect(
            graph.node("stack:production/web")?.dependsOn == [
                "swarm:network/traefik-public", "swarm:node/m1", "swarm:secret/portainer_admin_password", "swarm:secret/site_key",
            ])
        #expect(graph.cycle.isEmpty)
        // Without the swarm stage in the run, the stack waits for nothing of it.
        let alone = ResourceGraph(context: ResourceGraphContext(estate: estate, stages: [.stacks]), kinds: KindRegistry.standard.kinds)
        #expect(alone.node("stack:production/web")?.dependsOn == [])
    }

    @Test("one manager: none with workers, or two, is an error; bad daemon settings name their pointer")
    func validation() throws {
        let two = Self.load([
            Self.vm(1001, "m1", ip: "10.0.0.111/24", #""swarm_role": "manager""#), Self.vm(1002, "m2", ip: "10.0.0.112/24", #""swarm_role": "manager""#),
        ])
        #expect(two.report.errors.contains { $0.message.hasPrefix("more than one VM has swarm_role manager") })
        let none = Self.load([Self.vm(1002, "w1", ip: "10.0.0.112/24", #""swarm_role": "worker""#)])
        #expect(none.report.errors.contains { $0.message == "VM 1002 is a Swarm worker, but no VM has swarm_role manager" })
        let hypervisor = TestEstate.hypervisor.replacingOccurrences(
            of: #""domain_name""#,
            with:
                #""phoenix": {"docker": {"endpoints": {"1001": "http://x"}, "resolve_image": "sometimes", "secrets": {"bad name!": {"file": "/x"}}}}, "domain_name""#
        )
        let bad = Self.load([Self.vm(1001, "m1", ip: "10.0.0.111/24", #""swarm_role": "manager""#)], hypervisor: hypervisor)
        let pointers = bad.report.errors.map(\.pointer.description)
        #expect(pointers.contains("/phoenix/docker/endpoints/1001"), "\(pointers)")
        #expect(pointers.contains("/phoenix/docker/resolve_image"), "\(pointers)")
        #expect(pointers.contains("/phoenix/docker/secrets/bad name!"), "\(pointers)")
        let labels = Self.load([Self.vm(1001, "m1", ip: "10.0.0.111/24", #""swarm_role": "manager", "node_labels": ["a=1", "a=2"]"#)])
        #expect(labels.report.errors.contains { $0.message == "node label a is set twice" })
    }
}
