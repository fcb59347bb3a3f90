import Foundation
import PhoenixCore
import PhoenixState
import PhoenixTesting
import Testing

/// The example estate pointed at a DockerLab: VM 1001 the manager on the lab's first daemon, VM
/// 1002 a worker on the second (or, with one node, outside the Swarm), both stacks rewritten to
/// the lab's busybox image with host-free settings (`endpoint_mode: dnsrr`: this kernel has no IPVS).
struct SwarmEstate {
    let directory: TemporaryDirectory
    let lab: DockerLab
    var etc: String { directory.file("etc") }
    var state: String { directory.file("state.sqlite") }

    static let whoami = """
        services:
          whoami:
            image: lab/busybox:1
            command: ["sleep", "100000"]
            stop_grace_period: 1s
            networks: [traefik-public]
            healthcheck:
              test: ["CMD", "true"]
              interval: 1s
              retries: 2
            deploy:
              replicas: ${REPLICAS:-1}
              endpoint_mode: dnsrr
              update_config:
                parallelism: 0
                monitor: 1s
              labels:
                - com.example.owner=platform
            secrets:
              - portainer_admin_password
        networks:
          traefik-public:
            external: true
        secrets:
          portainer_admin_password:
            external: true

        """

    /// The example's Portainer stack with a stand-in that sleeps (its image comes from
    /// docker.portainer_server_image, here lab/portainer:1: busybox, not Portainer).
    static let portainer = """
        services:
          portainer:
            image: portainer/portainer-ce:latest
            command: ["sleep", "100000"]
            stop_grace_period: 1s
            networks: [traefik-public]
            deploy:
              replicas: 1
              endpoint_mode: dnsrr
              update_config:
                parallelism: 0
                monitor: 1s
              placement:
                constraints: [node.role == manager]
            secrets:
              - portainer_admin_password
        networks:
          traefik-public:
            external: true
        secrets:
          portainer_admin_password:
            external: true

        """

    static func notes(role: String) -> String {
        """
        services:
          app:
            image: lab/busybox:1
            command: ["sleep", "100000"]
            stop_grace_period: 1s
            environment:
              DB_USER: ${DB_USER}
              DB_PASSWORD: "${DB_PASSWORD}"
            networks: [traefik-public, notes]
            deploy:
              endpoint_mode: dnsrr
              update_config:
                parallelism: 0
                monitor: 1s
              placement:
                constraints: [node.labels.role == \(role)]
        networks:
          traefik-public:
            external: true
          notes: {}

        """
    }

    init(lab: DockerLab, timeout: Double = 60, endpoint: String? = nil, tls: Any? = nil) throws {
        self.lab = lab
        directory = try PatchedEstate.exampleCopy("phoenix-swarm")
        let twoNodes = lab.nodes.count == 2
        try PatchedEstate.edit(directory.file("etc/phoenix_hypervisor_config.json")) { root in
            var phoenix = root["phoenix"] as? [String: Any] ?? [:]
            var docker: [String: Any] = [
                "endpoints": ["1001": endpoint ?? lab.nodes[0].endpoint], "advertise": ["1001": lab.nodes[0].address],
                "resolve_image": "never", "converge_timeout_seconds": timeout,
            ]
            if twoNodes {
                docker["endpoints"] = ["1001": endpoint ?? lab.nodes[0].endpoint, "1002": lab.nodes[1].endpoint]
                docker["advertise"] = ["1001": lab.nodes[0].address, "1002": lab.nodes[1].address]
            }
            if let tls { docker["tls"] = tls } else { docker["tls"] = false }
            // The agent's mounts: a folder of the lab (the test daemons have no /var/run/docker.sock).
            docker["portainer_agent_mounts"] = ["\(lab.directory.path):/lab"]
            phoenix["docker"] = docker
            root["phoenix"] = phoenix
            root["docker"] = ["portainer_server_image": "lab/portainer:1", "portainer_agent_image": "lab/portainer-agent:1"]
        }
        try editVMs { vms in
            for index in vms.indices where vms[index]["vmid"] as? Int == 1001 { vms[index]["name"] = lab.nodes[0].name }
            for index in vms.indices where vms[index]["vmid"] as? Int == 1002 {
                if twoNodes {
                    vms[index]["name"] = lab.nodes[1].name
                } else {
                    vms[index]["swarm_role"] = nil
                    vms[index]["portainer_role"] = nil
                }
            }
        }
        try directory.write("stacks/whoami/docker-compose.yml", Self.whoami)
        try directory.write("stacks/notes/docker-compose.yml", Self.notes(role: twoNodes ? "apps" : "manager"))
        try directory.write("stacks/portainer_service/docker-compose.yml", Self.portainer)
    }

    func editVMs(_ change: (inout [[String: Any]]) -> Void) throws {
        try PatchedEstate.edit(directory.file("etc/phoenix_vm_configs.json")) { root in
            var vms = root["vms"] as! [[String: Any]]
            change(&vms)
            root["vms"] = vms
        }
    }

    func editVM(_ id: Int, _ change: (inout [String: Any]) -> Void) throws {
        try editVMs { vms in
            for index in vms.indices where vms[index]["vmid"] as? Int == id { change(&vms[index]) }
        }
    }

    /// Sets a variable of a stack's production environment.
    func setVariable(_ stack: String, _ name: String, _ value: String) throws {
        try PatchedEstate.edit(directory.file("etc/phoenix_stacks_config.json")) { root in
            var stacks = root["docker_stacks"] as! [String: Any]
            var entry = stacks[stack] as! [String: Any]
            var environments = entry["environments"] as! [String: Any]
            var production = environments["production"] as! [String: Any]
            var variables = (production["variables"] as? [[String: Any]] ?? []).filter { $0["name"] as? String != name }
            variables.append(["name": name, "value": value])
            production["variables"] = variables
            environments["production"] = production
            entry["environments"] = environments
            stacks[stack] = entry
            root["docker_stacks"] = stacks
        }
    }

    /// `phoenix.docker.converge_timeout_seconds`.
    func setTimeout(_ seconds: Double) throws {
        try editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var docker = phoenix["docker"] as! [String: Any]
            docker["converge_timeout_seconds"] = seconds
            phoenix["docker"] = docker
            root["phoenix"] = phoenix
        }
    }

    func editHypervisor(_ change: (inout [String: Any]) -> Void) throws {
        try PatchedEstate.edit(directory.file("etc/phoenix_hypervisor_config.json"), change)
    }

    /// Runs phoenix on this estate (in node `namespace`'s network namespace when given).
    func phoenix(_ arguments: [String], environment: [String: String] = [:], namespace: Int? = nil) throws -> CommandResult {
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        try FileManager.default.createDirectory(atPath: directory.file("tmp"), withIntermediateDirectories: true)
        let variables = environment.merging(["TMPDIR": directory.file("tmp")]) { first, _ in first }
        let env = try #require(TestPaths.program("env"))
        let global = arguments.first == "history" ? ["--state", state] : ["--config-dir", etc, "--state", state]
        let argv = [env] + variables.map { "\($0.key)=\($0.value)" } + [binary] + arguments + global
        if let namespace { return try lab.inNamespace(namespace, argv) }
        return try Command.run(argv[0], Array(argv.dropFirst()), timeout: 180)
    }

    /// `phoenix … --format json`, parsed.
    func json(
        _ arguments: [String], expectStatus: Int32? = nil, environment: [String: String] = [:]
    ) throws -> (status: Int32, document: [String: Any], stderr: String) {
        let result = try phoenix(arguments + ["--format", "json"], environment: environment)
        if let expectStatus { #expect(result.status == expectStatus, "\(arguments): \(result.stdout.suffix(3000)) \(result.stderr.suffix(2000))") }
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "not JSON: \(result.stdout) \(result.stderr)")
        return (result.status, document, result.stderr)
    }

    /// The runs in the state store, oldest first.
    func runs() async throws -> [RunRecord] { try await StateStore(path: state).runs().reversed() }

    /// The stacks member's entries by resource id.
    static func stacks(_ document: [String: Any]) -> [String: [String: Any]] {
        let items = (document["stacks"] as? [String: Any])?["stacks"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: items.map { ($0["resource"] as! String, $0) })
    }

    static func deploys(_ document: [String: Any]) -> Int? { (document["stacks"] as? [String: Any])?["deploys"] as? Int }
}
