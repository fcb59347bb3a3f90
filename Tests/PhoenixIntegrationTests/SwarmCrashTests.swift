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

    @Test("TCP with TLS: the client certificate from the configuration is accepted; one from another CA is a clear TLS error naming the call")
    func tls() throws {
        guard try realProgram("dockerd") != nil, try realProgram("openssl") != nil else { return }
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

    @Test("a crash at every failpoint of sync swarm stacks: the next run converges, then nothing is left to do")
    func crashes() throws {
        guard let lab = try Self.lab(["swarm-manager"]) else { return }
        let estate = try SwarmEstate(lab: lab)
        var round = 0
        // Each round changes what the crashing resource converges, so that it has work to crash in.
        let changes: [String: () throws -> Void] = [
            "swarm:node/swarm-manager": { try estate.editVM(1001) { vm in vm["node_labels"] = ["role=manager", "round=\(round)"] } },
            "swarm:network/traefik-public": {
                let networks = try #require(try lab.api(0, "/networks") as? [[String: Any]])
                if let id = networks.first(where: { $0["Name"] as? String == "traefik-public" })?["Id"] as? String {
                    // Only possible with no stack attached: the stacks go first, then the network.
                    _ = try lab.docker(0, ["stack", "rm", "production_whoami"])
                    _ = try lab.docker(0, ["stack", "rm", "production_notes"])
                    _ = waitUntil(timeout: 30) { (try? lab.docker(0, ["network", "rm", id]))?.status == 0 }
                    let gone = waitUntil(timeout: 30) {
                        let names = ((try? lab.api(0, "/networks")) as? [[String: Any]] ?? []).compactMap { $0["Name"] as? String }
                        return !names.isEmpty && !names.contains("traefik-public")
                    }
                    try #require(gone, "the network is removed before the round starts")
                }
            },
            "swarm:secret/portainer_admin_password": {
                try estate.editHypervisor { root in
                    var api = root["portainer_api"] as! [String: Any]
                    api["admin_password"] = "round-\(round)-secret"
                    root["portainer_api"] = api
                }
            },
            "stack:production/whoami": { try estate.setVariable("whoami", "REPLICAS", String(1 + round % 2)) },
        ]
        for resource in changes.keys.sorted() {
            for phase in ["before", "after"] {
                round += 1
                try changes[resource]!()
                let crashed = try estate.phoenix(["sync", "swarm", "stacks"], environment: ["PHOENIX_FAILPOINT": "\(resource):\(phase):crash"])
                #expect(crashed.status == 86, "\(resource) \(phase): \(crashed.stdout)\(crashed.stderr)")
                let next = try estate.phoenix(["sync", "swarm", "stacks"])
                #expect(next.status == 0, "\(resource) \(phase): the next run converges: \(next.stdout)\(next.stderr)")
                let plan = try estate.phoenix(["plan", "swarm", "stacks", "--detailed-exitcode"])
                #expect(plan.status == 0, "\(resource) \(phase): nothing left: \(plan.stdout)")
            }
        }
        let history = try estate.phoenix(["history"])
        #expect(history.stdout.contains("interrupted"), "the crashed runs show as interrupted: \(history.stdout)")
    }
}
