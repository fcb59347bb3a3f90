import Foundation
import PhoenixTesting
import Testing

/// A certificate that feeds Swarm secrets (the original's Portainer TLS hook) against a real step-ca
/// and a real dockerd: the secret takes the certificate as its value, a new certificate is a new
/// versioned secret, the service is repointed and the old version pruned; never rm + create.
@Suite("Certificates feeding Swarm secrets (real step-ca, real dockerd)", .serialized, .needs(.docker, .stepCA))
struct SwarmCertTests {
    static let hook =
        "qm guest exec 1001 -- /bin/bash -c 'SECRET_CERT=\"portainer_tls_cert.pem\"; if docker secret inspect $SECRET_CERT >/dev/null 2>&1; then docker secret rm $SECRET_CERT; fi; docker secret create $SECRET_CERT /tmp/cert.pem; docker secret create portainer_tls_key.pem /tmp/key.pem'"

    @Test("the feed: issued → a versioned secret mounted by the stack; renewed → a new version, the service repointed, the old one pruned")
    func feed() throws {
        let lab = try DockerLab(names: ["swarm-certs"])
        let estate = try SwarmEstate(lab: lab)
        let host = estate.directory.file("host")
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        let ca = try StepCALab.start(in: host + "/ca")
        defer { ca.stop() }
        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["step_ca"] = ["url": ca.url, "password_file": "/ca/password.txt", "root_file": "/ca/certs/root_ca.crt"]
            root["phoenix"] = phoenix
            root["step_ca"] = ["provisioner_name": "phoenix"]
        }
        let entry: [String: Any] = [
            "common_name": "portainer.lab.test", "sans": ["portainer.lab.test", "127.0.0.1"], "cert_path": "/certs/portainer.crt",
            "key_path": "/certs/portainer.key", "post_renewal_command": Self.hook,
        ]
        try JSONSerialization.data(withJSONObject: [entry]).write(to: URL(fileURLWithPath: estate.directory.file("etc/certificate-manifest.json")))
        let compose = SwarmEstate.whoami.replacingOccurrences(
            of: "    secrets:\n      - portainer_admin_password\n",
            with: "    secrets:\n      - portainer_admin_password\n      - portainer_tls_cert.pem\n      - portainer_tls_key.pem\n"
        ).replacingOccurrences(
            of: "secrets:\n  portainer_admin_password:\n    external: true\n",
            with:
                "secrets:\n  portainer_admin_password:\n    external: true\n  portainer_tls_cert.pem:\n    external: true\n  portainer_tls_key.pem:\n    external: true\n"
        )
        #expect(compose.contains("portainer_tls_key.pem:\n    external: true"), "the test compose names the fed secrets")
        try estate.directory.write("stacks/whoami/docker-compose.yml", compose)
        let roots = ["--host-root", host]

        // Before any certificate: the plan says the secret waits for it.
        let plan = try estate.phoenix(["plan", "certs", "swarm", "stacks"] + roots)
        #expect(plan.stdout.contains("cert:portainer.lab.test: ~ issue (missing)"), "\(plan.stdout) \(plan.stderr)")

        let first = try estate.json(["sync", "certs", "swarm", "stacks"] + roots, expectStatus: 0)
        #expect(first.document["succeeded"] as? Bool == true, "\(first.document)")
        func secretNames() throws -> [String] {
            try #require(try lab.api(0, "/secrets") as? [[String: Any]]).compactMap { ($0["Spec"] as? [String: Any])?["Name"] as? String }
        }
        func mounted() throws -> [String] {
            let services = try #require(try lab.api(0, "/services") as? [[String: Any]])
            let whoami = services.first { (($0["Spec"] as? [String: Any])?["Name"] as? String) == "production_whoami_whoami" }
            let container = ((whoami?["Spec"] as? [String: Any])?["TaskTemplate"] as? [String: Any])?["ContainerSpec"] as? [String: Any]
            return (container?["Secrets"] as? [[String: Any]] ?? []).compactMap { $0["SecretName"] as? String }.sorted()
        }
        let names = try secretNames()
        let firstCert = try #require(names.first { $0.hasPrefix("portainer_tls_cert.pem_") }, "\(names)")
        #expect(names.contains { $0.hasPrefix("portainer_tls_key.pem_") })
        #expect(try mounted().contains(firstCert))
        // The values, read inside the running task: the installed certificate and key.
        func installed(_ path: String) throws -> String { try String(contentsOfFile: host + path, encoding: .utf8) }
        func fed(_ what: String) throws {
            let (cert, key) = (try installed("/certs/portainer.crt"), try installed("/certs/portainer.key"))
            #expect(cert.contains("BEGIN CERTIFICATE") && key.contains("PRIVATE KEY"), "\(what): the installed files")
            for (target, value) in [("portainer_tls_cert.pem", cert), ("portainer_tls_key.pem", key)] {
                try lab.waitForSecret(0, service: "production_whoami_whoami", target: target, value, what: "\(what): the task to read \(target) as installed")
            }
        }
        try fed("issued")
        let issuedCert = try installed("/certs/portainer.crt")

        // Nothing due: no sign, no new version, no deploy.
        let quiet = try estate.json(["sync", "certs", "swarm", "stacks"] + roots, expectStatus: 0)
        #expect(SwarmEstate.deploys(quiet.document) == 0)
        #expect(ca.requests("/1.0/sign") == 1)
        let quietNames = try secretNames().filter { $0.hasPrefix("portainer_tls_cert.pem_") }
        #expect(quietNames == [firstCert])

        // Renewed: a new version of each fed secret, the stack repointed, the old version gone.
        let renewed = try estate.json(["sync", "certs", "swarm", "stacks", "--force", "portainer.lab.test"] + roots, expectStatus: 0)
        #expect(SwarmEstate.deploys(renewed.document) == 1, "\(renewed.document)")
        let versions = try secretNames().filter { $0.hasPrefix("portainer_tls_cert.pem_") }
        #expect(versions.count == 1 && versions != [firstCert], "\(versions)")
        let now = try mounted()
        #expect(now.contains(versions.first ?? "?") && !now.contains(firstCert), "\(now)")
        #expect(try installed("/certs/portainer.crt") != issuedCert, "a renewal installs a new certificate")
        try fed("renewed")
    }
}
