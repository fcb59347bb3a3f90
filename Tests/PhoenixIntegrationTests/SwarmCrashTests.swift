import Foundation
import PhoenixTesting
import Testing

extension SwarmTests {
    /// A client certificate and key signed by `caKey`'s CA (`ca`), for Docker's TLS client verification.
    static func clientCertificate(ca: String, caKey: String, in directory: TemporaryDirectory, name: String) throws -> (cert: String, key: String) {
        let openssl = try #require(TestPaths.program("openssl"))
        let (cert, key, csr, ext) = (directory.file("\(name).crt"), directory.file("\(name).key"), directory.file("\(name).csr"), directory.file("\(name).ext"))
        try "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n".write(toFile: ext, atomically: true, encoding: .utf8)
        for arguments in [
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=\(name)"],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert],
        ] {
            let result = try Command.run(openssl, arguments)
            try #require(result.status == 0, "openssl \(arguments[0]): \(result.stderr)")
        }
        return (cert, key)
    }

    @Test(
        "TCP with TLS: the client certificate from the configuration is accepted; one from another CA is a clear TLS error naming the call",
        .needs(.openssl))
    func tls() throws {
        let pki = try TemporaryDirectory("phoenix-docker-pki")
        let server = try TestCertificates(in: pki)
        let good = try Self.clientCertificate(ca: server.ca, caKey: pki.file("ca.key"), in: pki, name: "phoenix")
        let other = try TemporaryDirectory("phoenix-docker-other")
        let stranger = try TestCertificates(in: other)
        let wrong = try Self.clientCertificate(ca: stranger.ca, caKey: other.file("ca.key"), in: other, name: "stranger")
        let lab = try DockerLab(names: ["swarm-manager"], tls: (server.ca, server.cert, server.key))
        let tls: [String: Any] = ["ca_file": server.ca, "cert_file": good.cert, "key_file": good.key]
        let estate = try SwarmEstate(lab: lab, endpoint: "tcp://127.0.0.1:2376", tls: tls)
        // phoenix runs inside the daemon's namespace, where its TCP socket listens on loopback.
        let plan = try estate.phoenix(["plan", "swarm", "stacks"], namespace: 0)
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("swarm:node/swarm-manager: ~ init the Swarm"), "\(plan.stdout)")
        let synced = try estate.phoenix(["sync", "swarm", "stacks"], namespace: 0)
        #expect(synced.status == 0, "docker stack deploy gets the same TLS files: \(synced.stdout)\(synced.stderr)")
        #expect(try services(lab)["production_whoami_whoami"] != nil)

        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var docker = phoenix["docker"] as! [String: Any]
            docker["tls"] = ["ca_file": server.ca, "cert_file": wrong.cert, "key_file": wrong.key]
            phoenix["docker"] = docker
            root["phoenix"] = phoenix
        }
        let refused = try estate.phoenix(["plan", "swarm", "--format", "json"], namespace: 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any], "\(refused.stdout)\(refused.stderr)")
        let error = try #require(document["swarm_error"] as? String, "\(document)")
        #expect(error.hasPrefix("GET /version on tcp://127.0.0.1:2376: TLS failed:"), "\(error)")
        #expect(!error.contains("BEGIN"), "no key material in an error")
        // A plan whose kind could not read its system is incomplete: exit 1, never "no changes".
        #expect(refused.status == 1, "\(refused.stderr)")
        let text = try estate.phoenix(["plan", "swarm", "--detailed-exitcode"], namespace: 0)
        #expect(text.status == 1 && text.stderr.contains("the plan is incomplete: swarm"), "\(text.stdout)\(text.stderr)")

        // A CA file that is not there: said so, with the path phoenix looked at and the setting
        // that named it (not "not a PEM certificate file").
        let gone = pki.file("gone/ca.pem")
        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var docker = phoenix["docker"] as! [String: Any]
            docker["tls"] = ["ca_file": gone, "cert_file": good.cert, "key_file": good.key]
            phoenix["docker"] = docker
            root["phoenix"] = phoenix
        }
        let missing = try estate.phoenix(["plan", "swarm", "--format", "json"], namespace: 0)
        let missingDocument = try #require(
            try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as? [String: Any], "\(missing.stdout)\(missing.stderr)")
        let missingError = try #require(missingDocument["swarm_error"] as? String, "\(missingDocument)")
        #expect(
            missingError
                == "reading the client's TLS files for tcp://127.0.0.1:2376: the CA certificate \(gone) does not exist on this machine (named by phoenix.docker.tls.ca_file)",
            "\(missingError)")
    }

    /// What the daemon holds of the resources the crash rounds change (nothing before the Swarm exists).
    struct Held: Equatable {
        var replicas: Int?
        var networks: [String] = []
        var roundLabel: String?
        var secrets: [String] = []
        var services: [String] = []
    }

    func held(_ lab: DockerLab) throws -> Held {
        let info = try #require(try lab.api(0, "/info") as? [String: Any])
        guard (info["Swarm"] as? [String: Any])?["LocalNodeState"] as? String == "active" else { return Held() }
        let running = try services(lab)
        let networks = try #require(try lab.api(0, "/networks") as? [[String: Any]])
        let node = try #require(try nodes(lab).first)
        let secrets = try #require(try lab.api(0, "/secrets") as? [[String: Any]])
        return Held(
            replicas: replicas(running["production_whoami_whoami"]),
            networks: networks.filter { $0["Scope"] as? String == "swarm" }.compactMap { $0["Name"] as? String }.sorted(),
            roundLabel: ((node["Spec"] as? [String: Any])?["Labels"] as? [String: String])?["round"],
            secrets: secrets.compactMap { ($0["Spec"] as? [String: Any])?["Name"] as? String }.sorted(),
            services: running.keys.sorted())
    }

    @Test(
        "a crash at every failpoint of sync swarm stacks: the crashed resource is as before or as after its change, the next run converges, then nothing is left to do"
    )
    func crashes() throws {
        let lab = try Self.lab(["swarm-manager"])
        let estate = try SwarmEstate(lab: lab)
        var round = 0
        var replicasWanted = 0
        var password = "example-Secret-do-not-use-9f3b"
        // Each round changes what the crashing resource converges, so that it has work to crash in.
        let changes: [String: () throws -> Void] = [
            "swarm:node/swarm-manager": { try estate.editVM(1001) { vm in vm["node_labels"] = ["role=manager", "round=\(round)"] } },
            "swarm:network/traefik-public": {
                let networks = try #require(try lab.api(0, "/networks") as? [[String: Any]])
                if let id = networks.first(where: { $0["Name"] as? String == "traefik-public" })?["Id"] as? String {
                    // Only possible with no stack attached: the stacks go first, then the network.
                    for stack in ["production_whoami", "production_notes"] {
                        // dockerd may refuse the stack's own network while its tasks still stop
                        // ("in use by task"): the next rm takes what is left.
                        var said = ""
                        try waitFor("docker stack rm \(stack)", timeout: 30, interval: 0.5, detail: { said }) {
                            let removed = try lab.docker(0, ["stack", "rm", stack])
                            said = removed.stderr
                            return removed.status == 0
                        }
                    }
                    var last = ""
                    try waitFor("the network to be removable once its stacks are gone", timeout: 30, interval: 0.5, detail: { last }) {
                        let result = try lab.docker(0, ["network", "rm", id])
                        last = result.stderr
                        return result.status == 0
                    }
                    try waitFor("the network to be gone", timeout: 30, interval: 0.5) {
                        let names = ((try? lab.api(0, "/networks")) as? [[String: Any]] ?? []).compactMap { $0["Name"] as? String }
                        return !names.isEmpty && !names.contains("traefik-public")
                    }
                }
            },
            "swarm:secret/portainer_admin_password": {
                password = "round-\(round)-secret"
                try estate.editHypervisor { root in
                    var api = root["portainer_api"] as! [String: Any]
                    api["admin_password"] = password
                    root["portainer_api"] = api
                }
            },
            "stack:production/whoami": {
                replicasWanted = 1 + round % 2
                try estate.setVariable("whoami", "REPLICAS", String(replicasWanted))
            },
        ]
        let versioned = "portainer_admin_password_"
        for resource in changes.keys.sorted() {
            for phase in ["before", "after"] {
                round += 1
                let label = "\(resource) \(phase)"
                try changes[resource]!()
                let old = try held(lab)
                let crashed = try estate.phoenix(["sync", "swarm", "stacks"], environment: ["PHOENIX_FAILPOINT": "\(resource):\(phase):crash"])
                #expect(crashed.status == 86, "\(label): \(crashed.stdout)\(crashed.stderr)")

                // What the crash left on the daemon: before, the resource as it was; after, as changed.
                let left = try held(lab)
                switch resource {
                case "stack:production/whoami":
                    #expect(left.replicas == (phase == "before" ? old.replicas : replicasWanted), "\(label): \(left)")
                case "swarm:network/traefik-public":
                    #expect(!old.networks.contains("traefik-public"), "\(label): removed for the round: \(old)")
                    #expect(left.networks.contains("traefik-public") == (phase == "after"), "\(label): \(left)")
                case "swarm:node/swarm-manager":
                    #expect(left.roundLabel == (phase == "before" ? old.roundLabel : String(round)), "\(label): \(left) (was \(old))")
                    #expect(old.roundLabel != String(round))
                default:
                    let added = Set(left.secrets).subtracting(old.secrets)
                    #expect(Set(old.secrets).isSubset(of: left.secrets), "\(label): nothing is removed before the stack moves off it: \(left)")
                    #expect(added.count == (phase == "before" ? 0 : 1), "\(label): a new version only once the step ran: \(added)")
                    #expect(added.filter { !$0.hasPrefix(versioned) }.isEmpty, "\(label): \(added)")
                }

                let next = try estate.phoenix(["sync", "swarm", "stacks"])
                #expect(next.status == 0, "\(label): the next run converges: \(next.stdout)\(next.stderr)")
                let plan = try estate.phoenix(["plan", "swarm", "stacks", "--detailed-exitcode"])
                #expect(plan.status == 0, "\(label): nothing left: \(plan.stdout)")

                // What the daemon holds then: one version of the secret, no orphan network or stack,
                // the changes of every round so far, and the task reading the configured password.
                let now = try held(lab)
                #expect(now.secrets.filter { $0.hasPrefix(versioned) }.count == 1 && now.secrets.count == 1, "\(label): \(now.secrets)")
                #expect(now.networks == ["ingress", "production_notes_notes", "traefik-public"], "\(label): \(now.networks)")
                #expect(now.services == ["production_notes_app", "production_whoami_whoami"], "\(label): \(now.services)")
                #expect(now.replicas == replicasWanted, "\(label): \(now)")
                if round >= 5 { #expect(now.roundLabel == String(min(round, 6)), "\(label): \(now)") }
                try lab.waitForSecret(
                    0, service: "production_whoami_whoami", target: "portainer_admin_password", password,
                    what: "\(label): the whoami tasks to read the configured password")
            }
        }
        let history = try estate.phoenix(["history"])
        #expect(history.stdout.contains("interrupted"), "the crashed runs show as interrupted: \(history.stdout)")
    }
}
