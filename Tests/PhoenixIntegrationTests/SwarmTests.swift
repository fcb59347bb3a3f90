import Foundation
import PhoenixTesting
import Testing

/// The swarm and stacks stages against real Docker daemons (DockerLab). Nothing stands in: the
/// Engine API, `docker stack deploy` (the CLI on this machine, pointed at the lab's socket) and
/// Swarm's own scheduling are the real ones.
@Suite("Swarm and stacks against real dockerd", .serialized)
struct SwarmTests {
    static func lab(_ names: [String]) throws -> DockerLab? {
        guard try realProgram("dockerd") != nil, try realProgram("docker") != nil else { return nil }
        return try DockerLab(names: names)
    }

    func services(_ lab: DockerLab, node: Int = 0) throws -> [String: [String: Any]] {
        let items = try #require(try lab.api(node, "/services") as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: items.map { (($0["Spec"] as! [String: Any])["Name"] as! String, $0) })
    }

    func spec(_ service: [String: Any]?) -> [String: Any] { (service?["Spec"] as? [String: Any]) ?? [:] }
    func container(_ service: [String: Any]?) -> [String: Any] {
        ((spec(service)["TaskTemplate"] as? [String: Any])?["ContainerSpec"] as? [String: Any]) ?? [:]
    }
    func replicas(_ service: [String: Any]?) -> Int? { ((spec(service)["Mode"] as? [String: Any])?["Replicated"] as? [String: Any])?["Replicas"] as? Int }

    @Test("one node: init, labels, network, versioned secret, deploy, a no-op with zero deploys, a change, a failing change rolled back whole")
    func singleNode() throws {
        guard let lab = try Self.lab(["swarm-manager"]) else { return }
        let estate = try SwarmEstate(lab: lab, timeout: 12)

        let plan = try estate.phoenix(["plan", "swarm", "stacks"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("swarm:node/swarm-manager: ~ init the Swarm on swarm-manager (advertise 10.211.0.1)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("swarm:network/traefik-public: ~ create the overlay network traefik-public"), "\(plan.stdout)")
        #expect(plan.stdout.contains("stack:production/whoami (production_whoami): ~ deploy: never deployed"), "\(plan.stdout)")
        // The plan touched nothing: the daemon is not in a Swarm.
        let info = try #require(try lab.api(0, "/info") as? [String: Any])
        #expect((info["Swarm"] as? [String: Any])?["LocalNodeState"] as? String == "inactive")

        let first = try estate.json(["sync", "swarm", "stacks"], expectStatus: 0)
        #expect(first.document["succeeded"] as? Bool == true)
        #expect(SwarmEstate.deploys(first.document) == 2)
        let nodes = try #require(try lab.api(0, "/nodes") as? [[String: Any]])
        #expect(nodes.count == 1)
        let labels = (nodes.first?["Spec"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
        #expect(labels["role"] == "manager", "\(labels)")
        let networks = try #require(try lab.api(0, "/networks") as? [[String: Any]])
        #expect(networks.contains { $0["Name"] as? String == "traefik-public" && $0["Scope"] as? String == "swarm" })
        let secrets = try #require(try lab.api(0, "/secrets") as? [[String: Any]]).compactMap { ($0["Spec"] as? [String: Any])?["Name"] as? String }
        let versioned = try #require(secrets.first { $0.hasPrefix("portainer_admin_password_") }, "\(secrets)")
        #expect(versioned.count == "portainer_admin_password_".count + 12)
        var running = try services(lab)
        let whoami = running["production_whoami_whoami"]
        #expect(replicas(whoami) == 2)
        let mounted = (container(whoami)["Secrets"] as? [[String: Any]] ?? []).compactMap { $0["SecretName"] as? String }
        #expect(mounted == [versioned], "the compose's external secret points at the versioned name")
        #expect((spec(whoami)["Labels"] as? [String: String])?["io.phoenix.spec"] != nil, "every service carries the spec hash")
        #expect(running["production_notes_app"] != nil)

        // A no-op: nothing deployed, a bounded number of Engine API calls.
        let noop = try estate.json(["sync", "swarm", "stacks"], expectStatus: 0)
        #expect(SwarmEstate.deploys(noop.document) == 0)
        let calls = try #require((noop.document["stacks"] as? [String: Any])?["calls"] as? Int)
        #expect(calls <= 12, "a no-op reads each kind once, whatever the number of services: \(calls)")
        #expect(try estate.phoenix(["plan", "swarm", "stacks", "--detailed-exitcode"]).status == 0)

        // A change that converges: exactly that stack is deployed.
        try estate.setVariable("whoami", "REPLICAS", "3")
        let changePlan = try estate.phoenix(["plan", "stacks"])
        #expect(
            changePlan.stdout.contains("stack:production/whoami (production_whoami): ~ deploy: configuration changed: service whoami: deploy"),
            "\(changePlan.stdout)")
        #expect(!changePlan.stdout.contains("production_notes"), "\(changePlan.stdout)")
        let change = try estate.json(["sync", "stacks"], expectStatus: 0)
        #expect(SwarmEstate.deploys(change.document) == 1)
        #expect(SwarmEstate.stacks(change.document)["stack:production/whoami"]?["status"] as? String == "deployed")
        #expect(replicas(try services(lab)["production_whoami_whoami"]) == 3)

        // A change whose service never becomes healthy: the whole stack goes back, and it is a failure.
        let healthy = try String(contentsOfFile: estate.directory.file("stacks/whoami/docker-compose.yml"), encoding: .utf8)
        try estate.directory.write(
            "stacks/whoami/docker-compose.yml",
            healthy.replacingOccurrences(of: "test: [\"CMD\", \"true\"]", with: "test: [\"CMD\", \"false\"]").replacingOccurrences(
                of: "replicas: ${REPLICAS:-1}", with: "replicas: 1"))
        let broken = try estate.json(["sync", "stacks"], expectStatus: 1)
        #expect(broken.document["succeeded"] as? Bool == false)
        let item = try #require(SwarmEstate.stacks(broken.document)["stack:production/whoami"])
        #expect(item["status"] as? String == "rolled back", "\(item)")
        #expect((item["error"] as? String)?.contains("did not converge within 12 s: production_whoami_whoami: 0/1 running") == true, "\(item)")
        #expect(SwarmEstate.deploys(broken.document) == 2, "the deploy and the rollback")
        running = try services(lab)
        let back = running["production_whoami_whoami"]
        #expect(replicas(back) == 3, "replicas came back with the rest of the previous compose")
        #expect(((container(back)["Healthcheck"] as? [String: Any])?["Test"] as? [String]) == ["CMD", "true"])
        let history = try estate.phoenix(["history"])
        #expect(history.stdout.contains("stacks: 0 deployed, 1 rolled back, 1 failed"), "\(history.stdout)")
        // The next plan still wants the new compose: the rollback is not the configuration.
        try estate.directory.write("stacks/whoami/docker-compose.yml", healthy)
        #expect(try estate.phoenix(["plan", "stacks", "--detailed-exitcode"]).status == 0, "back to the last good compose: as configured")
    }
}
