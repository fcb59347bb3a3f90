import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// A small estate in the original's files for the fast tests of the kinds over the fakes: two
/// containers with firewall rules (101 `web`, 102 `db`), a Swarm manager VM (1001) whose daemon is
/// a `FakeDockerEngine`, the cluster's firewall, one stack (`whoami`) that needs an external
/// overlay network and the Portainer admin password as an external secret, and web's certificate
/// from a `FakeCertificateAuthority`.
struct FakeEstate {
    var image = "lab/whoami:1"
    var webCores = 2
    var managerCores = 2

    static let compose = """
        services:
          whoami:
            image: ${IMAGE}
            networks: [traefik-public]
            deploy:
              replicas: 2
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

    /// Where the host holds the CA's root and the provisioner's password.
    static let rootFile = "/etc/phoenix/step-ca/root_ca.crt"
    static let passwordFile = "/etc/phoenix/step-ca/provisioner_password.txt"
    static let certificate = "web.lab.example.net"

    /// web's certificate: on the host and in the guest, nginx reloaded in the guest after a change
    /// (`verify: false`: nothing listens here to check it served).
    static let manifest = """
        [{"common_name": "web.lab.example.net", "sans": ["web.lab.example.net", "10.77.0.10"], "guest_id": 101, "guest_type": "lxc",
          "cert_path": "/tank/certs/web.crt", "key_path": "/tank/certs/web.key", "owner": "root:www-data", "permissions": "640",
          "guest_cert_path": "/etc/nginx/ssl/web.crt", "guest_key_path": "/etc/nginx/ssl/web.key",
          "post_renewal_command": "pct exec 101 -- systemctl reload nginx", "verify": false}]
        """

    func sources() -> ConfigSources {
        let hypervisor = """
            {"domain_name": "lab.example.net",
             "network": {"interfaces": {"address": "192.168.50.2/24"}},
             "firewall": {"enabled": true, "default_input_policy": "DROP", "default_output_policy": "ACCEPT", "global_firewall_rules": [
               {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "22", "source": "192.168.50.0/24", "comment": "SSH from the LAN"},
               {"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "8006", "source": "192.168.50.0/24", "comment": "the web UI"}]},
             "portainer_api": {"admin_password": "fake-Secret-9f3b"},
             "step_ca": {"provisioner_name": "phoenix@lab.example.net"},
             "phoenix": {"node_name": "pve", "docker": {"endpoints": {"1001": "unix:///fake/docker.sock"}, "tls": false,
                                                        "converge_timeout_seconds": 30},
                         "step_ca": {"url": "https://ca.lab.example.net:9000", "password_file": "\(Self.passwordFile)",
                                     "root_file": "\(Self.rootFile)"}}}
            """
        let lxc = """
            {"lxc_configs": {
              "101": {"name": "web", "memory_mb": 512, "cores": \(webCores),
                      "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": "10.77.0.10/24", "gw": "10.77.0.1"},
                      "boot_order": 2, "start_at_boot": true,
                      "firewall": {"enabled": true, "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "443", "comment": "HTTPS"}]}},
              "102": {"name": "db", "memory_mb": 1024, "cores": 2,
                      "network_config": {"name": "eth0", "bridge": "vmbr0", "ip": "10.77.0.11/24", "gw": "10.77.0.1"},
                      "boot_order": 1, "start_at_boot": true,
                      "firewall": {"enabled": true, "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "port": "5432", "source": "10.77.0.10", "comment": "from web"}]}}}}
            """
        let vm = """
            {"vms": [{"vmid": 1001, "name": "swarm-manager", "cores": \(managerCores), "memory_mb": 4096,
                      "network_config": {"ip": "10.77.0.51/24", "gw": "10.77.0.1"},
                      "swarm_role": "manager", "node_labels": ["role=manager"], "docker_stacks": ["whoami"],
                      "boot_order": 3, "start_at_boot": true}]}
            """
        let stacks = """
            {"docker_stacks": {"whoami": {"environments": {"production": {"variables": [{"name": "IMAGE", "value": "\(image)"}]}}}}}
            """
        func file(_ name: String, _ text: String) -> ConfigSources.File { ConfigSources.File(name: name, bytes: Array(text.utf8)) }
        return ConfigSources(
            hypervisor: file("etc/phoenix_hypervisor_config.json", hypervisor), lxc: file("etc/phoenix_lxc_configs.json", lxc),
            vm: file("etc/phoenix_vm_configs.json", vm), stacksConfig: file("etc/phoenix_stacks_config.json", stacks),
            certificateManifest: file("etc/certificate-manifest.json", Self.manifest),
            stackDirectories: [
                ConfigSources.StackDirectory(
                    name: "whoami", compose: file("stacks/whoami/docker-compose.yml", Self.compose), manifest: nil)
            ])
    }

    func load() throws -> Estate {
        let result = EstateLoader().load(sources())
        let estate = try #require(result.estate)
        try #require(result.report.isValid, "\(result.report.errors)")
        return estate
    }

    /// Puts every guest of `estate` on the fake cluster with its settings as configured, but for
    /// `differing` (a setting's value on the cluster, by VMID).
    static func cluster(_ estate: Estate, differing: [Int: [String: String]] = [:]) -> FakeProxmox {
        let proxmox = FakeProxmox()
        for guest in estate.guests {
            var config = Dictionary(ProxmoxGuestConfig.settings(for: guest).map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            config.merge(differing[guest.id] ?? [:]) { _, new in new }
            proxmox.addGuest(guest.id, kind: guest.kind == .lxc ? .lxc : .qemu, config: config)
        }
        return proxmox
    }
}

/// The sync service over the fakes: the kinds asked for, each on its own executor.
struct FakeRun {
    let estate: Estate
    var proxmox: FakeProxmox?
    var docker: FakeDockerEngine?
    /// The CA and the machines the certificates are installed on (the host, guest 101).
    var ca: FakeCertificateAuthority?
    var host: FakeMachine?
    var guest: FakeMachine?
    var failpoints: String?

    func service() -> SyncService {
        var failpoints = Failpoints(failpoints)
        failpoints.crashInProcess = true
        let executor = Executor(limits: ExecutionLimits(parallelism: 4), failpoints: failpoints)
        var stages: [SyncStage] = []
        var runners: [any KindRunner] = []
        if let proxmox {
            stages += [.guests, .firewall]
            runners.append(GuestSettings(estate: estate, client: proxmox, wanted: estate.guests.filter(\.enabled)).runner(executor: executor))
            runners.append(
                ExecutedRunner(APIFirewallKind(rules: FirewallRules(estate: estate, client: proxmox)), executor: executor, report: APIFirewallKind.report))
        }
        if let docker {
            stages += [.swarm, .stacks]
            let connections = SwarmConnections(settings: estate.settings.docker) { _ in docker }
            let swarm = SwarmConvergence(estate: estate, connections: connections)
            let stacks = StackDeployments(estate: estate, connections: connections, deployer: docker, secrets: swarm.secrets)
            runners.append(swarm.runner(executor: executor))
            runners.append(StacksKind(deployments: stacks, pruningWith: swarm).runner(executor: executor, connections: connections))
        }
        if let ca, let host, let guest {
            stages.append(.certs)
            let machines = Machines(host: host, guests: { _ in guest })
            runners.append(CertConvergence(estate: estate, machines: machines, makeClient: { _, _, _ in ca }).runner(executor: executor))
        }
        var service = SyncService(estate: estate, stages: stages)
        service.options[FirewallThroughAPI.self] = proxmox != nil
        service.runners = runners
        return service
    }

    static func results(_ outcome: SyncService.Outcome) -> [String: ResourceResult] {
        Dictionary(uniqueKeysWithValues: outcome.reports.flatMap(\.results).map { ($0.id, $0) })
    }
}

extension Array where Element == JournalEntry {
    /// Where `resource` reached `phase` in the journal (nil: it never did).
    func position(_ resource: String, _ phase: JournalPhase) -> Int? { firstIndex { $0.resource == resource && $0.phase == phase } }

    /// The phases `resource` went through, in order.
    func phases(_ resource: String) -> [JournalPhase] { filter { $0.resource == resource }.map(\.phase) }
}
