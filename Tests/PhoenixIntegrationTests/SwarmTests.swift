import Foundation
import PhoenixTesting
import Testing

/// The swarm and stacks stages against real Docker daemons (DockerLab). Nothing stands in: the
/// Engine API, `docker stack deploy` (the CLI on this machine, pointed at the lab's socket) and
/// Swarm's own scheduling are the real ones.
@Suite("Swarm and stacks against real dockerd", .serialized, .needs(.docker))
struct SwarmTests {
    static func lab(_ names: [String]) throws -> DockerLab {
        try DockerLab(names: names)
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
    func singleNode() async throws {
        let lab = try Self.lab(["swarm-manager"])
        let estate = try SwarmEstate(lab: lab)

        let plan = try estate.phoenix(["plan", "swarm", "stacks"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("swarm:node/swarm-manager: ~ init the Swarm on swarm-manager (advertise 10.211.0.1)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("swarm:network/traefik-public: ~ create the overlay network traefik-public"), "\(plan.stdout)")
        #expect(plan.stdout.contains("stack:production/whoami (production_whoami): ~ deploy: never deployed"), "\(plan.stdout)")
        // No state store, so no key to name the secret's version by: the plan says it is new and
        // names no suffix (sync's name is keyed by the key it creates with the store).
        let unnamed = "its name is fixed when sync creates the state store"
        #expect(
            plan.stdout.contains("swarm:secret/portainer_admin_password: ~ create portainer_admin_password, a new version (\(unnamed))"),
            "\(plan.stdout)")
        let planJSON = try estate.json(["plan", "swarm", "stacks"], expectStatus: 0)
        let planText = String(decoding: try JSONSerialization.data(withJSONObject: planJSON.document), as: UTF8.self)
        #expect(planText.contains(unnamed), "\(planText)")
        // Neither the plan nor a dry run touched anything: the daemon is not in a Swarm, no state store.
        let dry = try estate.phoenix(["sync", "--dry-run", "swarm", "stacks"])
        #expect(dry.status == 0 && dry.stdout.contains("Dry run: nothing was changed."), "\(dry.stdout)\(dry.stderr)")
        for output in [plan.stdout, planText, dry.stdout] { #expect(!output.contains("portainer_admin_password_"), "no suffix sync would not use: \(output)") }
        let info = try #require(try lab.api(0, "/info") as? [String: Any])
        #expect((info["Swarm"] as? [String: Any])?["LocalNodeState"] as? String == "inactive")
        #expect(!FileManager.default.fileExists(atPath: estate.state))

        let first = try estate.json(["sync", "swarm", "stacks", "--stats"], expectStatus: 0)
        #expect(first.document["succeeded"] as? Bool == true)
        #expect(SwarmEstate.deploys(first.document) == 2)
        // One stats line for every kind of the run: the Engine API's round trips and the deploys.
        let statsLines = first.stderr.split(separator: "\n").filter { $0.hasPrefix("stats: ") }
        #expect(statsLines.count == 1, "\(first.stderr)")
        let engineCalls = statsLines.first.flatMap { line in line.firstMatch(of: /(\d+) Engine API/).flatMap { Int($0.1) } } ?? 0
        #expect(engineCalls > 0 && statsLines.first?.contains(", 2 deploys") == true, "\(statsLines)")
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
        let swarmStatus = try estate.json(["swarm", "status"], expectStatus: 0).document
        let current = (swarmStatus["secrets"] as? [[String: Any]])?.first { $0["name"] as? String == "portainer_admin_password" }
        #expect(current?["current"] as? String == versioned && current?["exists"] as? Bool == true, "status names the real version: \(current ?? [:])")
        #expect((spec(whoami)["Labels"] as? [String: String])?["io.phoenix.spec"] != nil, "every service carries the spec hash")
        #expect(running["production_notes_app"] != nil)

        // A no-op: nothing deployed, a bounded number of Engine API calls.
        let noop = try estate.json(["sync", "swarm", "stacks", "--stats"], expectStatus: 0)
        #expect(SwarmEstate.deploys(noop.document) == 0)
        #expect(noop.stderr.contains(", 0 deploys, 0 signs") && !noop.stderr.contains(" 0 Engine API"), "\(noop.stderr)")
        let calls = try #require((noop.document["stacks"] as? [String: Any])?["calls"] as? Int)
        #expect(calls <= 12, "a no-op reads each kind once, whatever the number of services: \(calls)")
        #expect(try estate.phoenix(["plan", "swarm", "stacks", "--detailed-exitcode"]).status == 0)
        let quiet = try estate.phoenix(["sync", "swarm", "stacks"])
        #expect(quiet.stdout.contains("swarm: 3 resources as configured"), "\(quiet.stdout)")
        #expect(quiet.stdout.contains("stacks: 2 as configured (0 deploy calls,"), "a quiet run still says it looked: \(quiet.stdout)")

        // A change that converges: exactly that stack is deployed.
        try estate.setVariable("whoami", "REPLICAS", "3")
        let changePlan = try estate.phoenix(["plan", "stacks"])
        #expect(
            changePlan.stdout.contains("stack:production/whoami (production_whoami): ~ deploy: configuration changed: service whoami: replicas 2 → 3"),
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
        try estate.setTimeout(30)
        let broken = try estate.json(["sync", "stacks"], expectStatus: 1)
        #expect(broken.document["succeeded"] as? Bool == false)
        let item = try #require(SwarmEstate.stacks(broken.document)["stack:production/whoami"])
        #expect(item["status"] as? String == "rolled back", "\(item)")
        // Docker's own update stops at the first unhealthy task (failure_action pause); phoenix takes the whole stack back.
        let runs = try await estate.runs()
        let good = try #require(runs.last { $0.command == "sync stacks" && $0.outcome == "succeeded" }, "the change's run")
        #expect((item["error"] as? String)?.hasPrefix("rolled back to the compose of run \(good.id): production_whoami_whoami:") == true, "\(item)")
        #expect((item["service_errors"] as? [String])?.contains { $0.contains("unhealthy container") } == true, "the failing task's error: \(item)")
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

extension SwarmTests {
    @Test("one node: status, a hand edit found by drift and repaired, a secret rotated under a running service, labels reconciled, --prune")
    func singleNodeOperations() throws {
        let lab = try Self.lab(["swarm-manager"])
        let estate = try SwarmEstate(lab: lab)
        #expect(try estate.phoenix(["sync", "swarm", "stacks"]).status == 0)

        // Status: nodes, labels desired and actual, networks, secrets by name only.
        let swarm = try estate.json(["swarm", "status"], expectStatus: 0).document
        let node = try #require((swarm["nodes"] as? [[String: Any]])?.first)
        #expect(node["name"] as? String == "swarm-manager" && node["state"] as? String == "ready" && node["role"] as? String == "manager")
        #expect((node["labels"] as? [String: String]) == ["role": "manager"], "\(node)")
        let secret = try #require((swarm["secrets"] as? [[String: Any]])?.first { $0["name"] as? String == "portainer_admin_password" })
        #expect(secret["exists"] as? Bool == true)
        let statusText = try estate.phoenix(["swarm", "status"])
        #expect(statusText.status == 0, "\(statusText.stdout)\(statusText.stderr)")
        #expect(statusText.stdout.contains("portainer_admin_password"), "the secret is listed by name: \(statusText.stdout)")
        #expect(!(statusText.stdout + statusText.stderr).contains("example-Secret-do-not-use"), "no secret value, ever")
        let stacks = try estate.json(["stacks", "status"], expectStatus: 0).document
        let whoami = try #require((stacks["stacks"] as? [[String: Any]])?.first { $0["resource"] as? String == "stack:production/whoami" })
        #expect(whoami["health"] as? String == "converged" && whoami["last_deploy_run"] as? Int == 1, "\(whoami)")
        let row = try #require((whoami["services"] as? [[String: Any]])?.first)
        #expect(row["desired"] as? Int == 2 && row["running"] as? Int == 2, "\(row)")

        // A service edited by hand: drift names it and what changed (never an environment value), sync repairs it.
        #expect(try lab.docker(0, ["service", "update", "--detach", "--env-add", "HAND=made", "--replicas", "1", "production_whoami_whoami"]).status == 0)
        let drift = try estate.phoenix(["drift", "stacks"])
        #expect(drift.status == 2, "\(drift.stdout)\(drift.stderr)")
        #expect(drift.stdout.contains("changed by hand: stack:production/whoami: service whoami: env +HAND, replicas 2 → 1"), "\(drift.stdout)")
        #expect(!drift.stdout.contains("made"), "environment values never shown")
        let repair = try estate.json(["sync", "stacks"], expectStatus: 0).document
        #expect(SwarmEstate.deploys(repair) == 1)
        let repaired = try services(lab)["production_whoami_whoami"]
        #expect(replicas(repaired) == 2)
        #expect(!((container(repaired)["Env"] as? [String]) ?? []).contains { $0.hasPrefix("HAND=") })
        #expect(try estate.phoenix(["drift", "stacks"]).status == 0)

        // A new password: a new secret version, the service repointed to it, the old version pruned.
        let before = try #require(secret["current"] as? String)
        try estate.editHypervisor { root in
            var api = root["portainer_api"] as! [String: Any]
            api["admin_password"] = "rotated-Secret-2"
            root["portainer_api"] = api
        }
        let rotatePlan = try estate.phoenix(["plan", "swarm", "stacks"])
        #expect(rotatePlan.status == 0, "\(rotatePlan.stdout)\(rotatePlan.stderr)")
        let announced = "swarm:secret/portainer_admin_password: ~ new version "
        #expect(rotatePlan.stdout.contains(announced + "portainer_admin_password_"), "\(rotatePlan.stdout)")
        // With the store's key the plan names the version, and it is the one sync creates.
        let planned = rotatePlan.stdout.components(separatedBy: announced).dropFirst().first?.split(separator: " ").first.map(String.init)
        #expect(
            rotatePlan.stdout.contains(
                "stack:production/whoami (production_whoami): ~ deploy: configuration changed: secret portainer_admin_password: new version"),
            "\(rotatePlan.stdout)")
        let rotated = try estate.json(["sync", "swarm", "stacks"], expectStatus: 0).document
        #expect(SwarmEstate.deploys(rotated) == 1, "only the stack that uses the secret")
        let names = try #require(try lab.api(0, "/secrets") as? [[String: Any]]).compactMap { ($0["Spec"] as? [String: Any])?["Name"] as? String }
        #expect(!names.contains(before), "the old version is pruned once no service uses it: \(names)")
        let mounted = (container(try services(lab)["production_whoami_whoami"])["Secrets"] as? [[String: Any]] ?? []).compactMap { $0["SecretName"] as? String }
        #expect(mounted.count == 1 && mounted != [before] && names.contains(mounted[0]), "\(mounted) \(names)")
        #expect(planned != nil && mounted == [planned ?? ""], "the plan named what sync created: \(planned ?? "-") \(mounted)")
        #expect((rotated["stacks"] as? [String: Any])?["pruned_secrets"] as? [String] == [before])
        let rotationHistory = try estate.phoenix(["history"])
        #expect(rotationHistory.status == 0 && rotationHistory.stdout.contains("sync swarm stacks"), "\(rotationHistory.stdout)\(rotationHistory.stderr)")
        for output in [rotatePlan.stdout, rotatePlan.stderr, rotationHistory.stdout, rotationHistory.stderr] { #expect(!output.contains("rotated-Secret-2")) }

        // Labels: phoenix's own removed when the configuration drops them; a label set by hand stays.
        let nodeID = try #require(node["node_id"] as? String)
        #expect(try lab.docker(0, ["node", "update", "--label-add", "hand=kept", nodeID]).status == 0)
        try estate.editVM(1001) { vm in vm["node_labels"] = ["tier=front"] }
        let labelPlan = try estate.phoenix(["plan", "swarm"])
        #expect(labelPlan.stdout.contains("swarm:node/swarm-manager: ~ labels +tier=front -role"), "\(labelPlan.stdout)")
        #expect(try estate.phoenix(["sync", "swarm"]).status == 0)
        let labels = try #require(try lab.api(0, "/nodes/\(nodeID)") as? [String: Any])
        let now = (labels["Spec"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
        #expect(now["tier"] == "front" && now["role"] == nil && now["hand"] == "kept", "\(now)")

        // A stack the configuration no longer lists: planned, left alone, removed only with --prune.
        try estate.editVM(1002) { vm in vm["docker_stacks"] = [] }
        let prunePlan = try estate.phoenix(["plan", "stacks"])
        #expect(
            prunePlan.stdout.contains(
                "stack:production/notes (production_notes): phoenix deployed it and the configuration no longer lists it: removed only with --prune"),
            "\(prunePlan.stdout)")
        #expect(try estate.phoenix(["sync", "stacks"]).status == 0)
        #expect(try services(lab)["production_notes_app"] != nil, "without --prune it stays")
        let orphan = try estate.phoenix(["drift", "stacks"])
        #expect(orphan.status == 2 && orphan.stdout.contains("no longer configured: stack:production/notes"), "\(orphan.stdout)")
        let pruned = try estate.json(["sync", "stacks", "--prune"], expectStatus: 0).document
        #expect(SwarmEstate.stacks(pruned)["stack:production/notes"]?["status"] as? String == "removed")
        #expect(try services(lab)["production_notes_app"] == nil)
        #expect(try services(lab)["production_whoami_whoami"] != nil)
        #expect(try estate.phoenix(["plan", "stacks", "--detailed-exitcode"]).status == 0, "pruned and forgotten")
    }

    @Test("bad input: a compose file the CLI refuses fails that stack alone; an unreachable daemon is a clear error and the files still converge")
    func badInput() throws {
        let lab = try Self.lab(["swarm-manager"])
        let estate = try SwarmEstate(lab: lab)
        try estate.directory.write(
            "stacks/notes/docker-compose.yml",
            SwarmEstate.notes(role: "manager").replacingOccurrences(of: "endpoint_mode: dnsrr", with: "endpoint_mode: dnsrr\n      replicas: lots"))
        let refused = try estate.json(["sync", "swarm", "stacks"], expectStatus: 1).document
        let notes = try #require(SwarmEstate.stacks(refused)["stack:production/notes"])
        #expect(notes["status"] as? String == "failed")
        #expect((notes["error"] as? String)?.hasPrefix("docker stack deploy refused production_notes:") == true, "\(notes)")
        #expect((notes["error"] as? String)?.contains("replicas") == true, "the CLI's own message: \(notes)")
        #expect((notes["error"] as? String)?.contains("--detach") == false, "without the CLI's notice about --detach")
        #expect(SwarmEstate.stacks(refused)["stack:production/whoami"]?["status"] as? String == "deployed", "the other stack deploys")
        #expect(try services(lab)["production_notes_app"] == nil, "nothing of the refused stack")

        // A secret phoenix cannot source (a certificate-fed name no manifest entry feeds): that
        // stack waits, with the reason; the others deploy.
        try estate.directory.write(
            "stacks/notes/docker-compose.yml",
            SwarmEstate.notes(role: "manager").replacingOccurrences(
                of: "    networks: [traefik-public, notes]", with: "    networks: [traefik-public, notes]\n    secrets: [portainer_tls_cert.pem]")
                + "secrets:\n  portainer_tls_cert.pem:\n    external: true\n")
        let waitPlan = try estate.phoenix(["plan", "swarm", "stacks"])
        #expect(
            waitPlan.stdout.contains(
                "swarm:secret/portainer_tls_cert.pem: cannot converge: secret portainer_tls_cert.pem (needed by notes) has no source: no certificate of the manifest feeds it"
            ),
            "\(waitPlan.stdout)")
        let waiting = try estate.json(["sync", "swarm", "stacks"], expectStatus: 1).document
        let blockedNotes = try #require(SwarmEstate.stacks(waiting)["stack:production/notes"])
        #expect(blockedNotes["status"] as? String == "blocked", "\(blockedNotes)")
        #expect(
            (blockedNotes["error"] as? String)?.hasPrefix("waits for secret portainer_tls_cert.pem: no certificate of the manifest feeds it") == true,
            "\(blockedNotes)")
        #expect(SwarmEstate.stacks(waiting)["stack:production/whoami"]?["status"] as? String == "as configured")
        #expect(try services(lab)["production_notes_app"] == nil)
        let unchecked = try estate.phoenix(["drift", "stacks"])
        #expect(unchecked.status == 1, "a stack that cannot be compared is not in sync: \(unchecked.stdout)")
        #expect(unchecked.stdout.contains("cannot check: stack:production/notes: waits for secret portainer_tls_cert.pem"), "\(unchecked.stdout)")

        // The daemon gone: the error names the call and the endpoint; the files stage converges anyway.
        let host = estate.directory.file("host")
        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            var docker = phoenix["docker"] as! [String: Any]
            docker["endpoints"] = ["1001": "unix://\(estate.directory.path)/gone.sock"]
            phoenix["docker"] = docker
            root["phoenix"] = phoenix
        }
        let gone = try estate.json(["sync", "files", "swarm", "stacks", "--host-root", host], expectStatus: 1)
        let error = try #require(gone.document["swarm_error"] as? String, "\(gone.document)")
        #expect(error.contains("GET /version on unix://\(estate.directory.path)/gone.sock: the Docker daemon cannot be reached"), "\(error)")
        let blocked = try #require(SwarmEstate.stacks(gone.document)["stack:production/whoami"])
        #expect(blocked["status"] as? String == "blocked", "\(blocked)")
        #expect((blocked["error"] as? String)?.hasPrefix("not attempted: swarm:node/swarm-manager did not converge (GET /version on unix://") == true)
        #expect(FileManager.default.fileExists(atPath: host + "/tank/stacks/whoami/docker-compose.yml"), "the files stage still converged")
    }
}

extension SwarmTests {
    func nodes(_ lab: DockerLab) throws -> [[String: Any]] { try #require(try lab.api(0, "/nodes") as? [[String: Any]]) }
    func hostname(_ node: [String: Any]) -> String? { (node["Description"] as? [String: Any])?["Hostname"] as? String }
    func state(_ node: [String: Any]) -> String? { (node["Status"] as? [String: Any])?["State"] as? String }

    @Test("two nodes: init and join, worker labels, a Ready worker left alone, a stale Down entry removed, a stack placed on the worker")
    func twoNodes() throws {
        let lab = try Self.lab(["swarm-manager", "swarm-apps"])
        let estate = try SwarmEstate(lab: lab)
        let plan = try estate.phoenix(["plan", "swarm"])
        #expect(plan.stdout.contains("swarm:node/swarm-apps: ~ join as a worker (advertise 10.210.0.2)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("swarm:node/swarm-apps: ~ labels +gpu=false +io.phoenix.portainer-agent=true +role=apps"), "\(plan.stdout)")

        let first = try estate.json(["sync", "swarm", "stacks"], expectStatus: 0).document
        #expect(first["succeeded"] as? Bool == true)
        let joined = try nodes(lab)
        #expect(joined.count == 2 && joined.allSatisfy { state($0) == "ready" }, "\(joined)")
        let worker = try #require(joined.first { hostname($0) == "swarm-apps" })
        let workerID = try #require(worker["ID"] as? String)
        #expect(((worker["Spec"] as? [String: Any])?["Labels"] as? [String: String])?["role"] == "apps")
        // notes is placed by label on the worker (node.labels.role == apps): its task runs there.
        let tasks = try #require(try lab.api(0, "/tasks") as? [[String: Any]])
        let notes = tasks.filter {
            ($0["DesiredState"] as? String) == "running" && ($0["ServiceID"] as? String) == (try? services(lab)["production_notes_app"]?["ID"] as? String)
        }
        #expect(!notes.isEmpty && notes.allSatisfy { $0["NodeID"] as? String == workerID }, "\(notes.map { $0["NodeID"] ?? "" }) vs \(workerID)")

        // A Ready worker is left alone: no leave, no join, the same node.
        let again = try estate.json(["sync", "swarm"], expectStatus: 0).document
        let resources = ((again["swarm"] as? [String: Any])?["resources"] as? [[String: Any]]) ?? []
        #expect(resources.first { $0["resource"] as? String == "swarm:node/swarm-apps" }?["status"] as? String == "as configured", "\(resources)")
        #expect(try nodes(lab).compactMap { $0["ID"] as? String }.sorted() == joined.compactMap { $0["ID"] as? String }.sorted())

        // The worker leaves by itself: the manager keeps a Down entry of its name. phoenix joins it
        // again and removes the stale entry: one node of that name, Ready.
        #expect(try lab.docker(1, ["swarm", "leave", "--force"]).status == 0)
        #expect(waitUntil(timeout: 30) { (try? self.nodes(lab).first { self.hostname($0) == "swarm-apps" }.flatMap(self.state)) == "down" })
        let stalePlan = try estate.phoenix(["plan", "swarm"])
        #expect(stalePlan.stdout.contains("join as a worker (advertise 10.210.0.2), removing 1 stale Down entry first"), "\(stalePlan.stdout)")
        #expect(try estate.phoenix(["sync", "swarm"]).status == 0)
        let after = try nodes(lab).filter { hostname($0) == "swarm-apps" }
        #expect(after.count == 1 && after.first.flatMap(state) == "ready", "\(after)")
        #expect(after.first?["ID"] as? String != workerID, "a new membership, the old entry gone")
        #expect(try estate.phoenix(["plan", "swarm", "--detailed-exitcode"]).status == 0)
    }

    @Test(
        "Portainer (stand-in images: busybox, not Portainer): the server's stack with the configured image and the password as a secret file; the agent a global service on the agent node, created once, updated when its image changes"
    )
    func portainer() throws {
        let lab = try Self.lab(["swarm-manager", "swarm-apps"])
        let estate = try SwarmEstate(lab: lab)
        // The services stage's other half is Traefik in container 102, which this test does not run:
        // its files go to a folder, with no commands and its verification turned off (warned).
        try estate.editHypervisor { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["services"] = ["traefik": ["test": [], "reload": [], "restart": [], "verify": false]]
            root["phoenix"] = phoenix
        }
        let guests = ["--guest-root", estate.directory.file("guests")]
        let plan = try estate.phoenix(["plan", "swarm", "services", "stacks"] + guests)
        #expect(plan.stdout.contains("portainer: portainer:server (production_portainer_service): ~ deploy: never deployed"), "\(plan.stdout)")
        #expect(
            plan.stdout.contains("portainer: portainer:agent (portainer_agent): ~ deploy: never deployed: a global service on swarm-apps"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("stack:production/portainer_service"), "the server deploys with services, not twice")

        let first = try estate.json(["sync", "swarm", "services", "stacks"] + guests, expectStatus: 0).document
        let portainer = (first["portainer"] as? [String: Any])?["stacks"] as? [[String: Any]] ?? []
        #expect(portainer.map { $0["status"] as? String } == ["deployed", "deployed"], "\(portainer)")
        let running = try services(lab)
        let server = running["production_portainer_service_portainer"]
        #expect(container(server)["Image"] as? String == "lab/portainer:1", "docker.portainer_server_image")
        let file = (container(server)["Secrets"] as? [[String: Any]])?.first?["File"] as? [String: Any]
        #expect(file?["Name"] as? String == "portainer_admin_password", "the password reaches it as a file: \(container(server))")
        #expect(!((container(server)["Env"] as? [String]) ?? []).joined().contains("example-Secret"), "never in the environment")
        let agent = try #require(running["portainer_agent"])
        #expect(container(agent)["Image"] as? String == "lab/portainer-agent:1")
        #expect((spec(agent)["Mode"] as? [String: Any])?["Global"] != nil)
        let workerID = try #require(try nodes(lab).first { hostname($0) == "swarm-apps" }?["ID"] as? String)
        let tasks = try #require(try lab.api(0, "/tasks") as? [[String: Any]]).filter {
            $0["ServiceID"] as? String == agent["ID"] as? String && $0["DesiredState"] as? String == "running"
        }
        #expect(tasks.count == 1 && tasks.first?["NodeID"] as? String == workerID, "on the agent VM's node only")
        let version = ((agent["Version"] as? [String: Any])?["Index"] as? Int) ?? 0

        let again = try estate.json(["sync", "services"] + guests, expectStatus: 0).document
        #expect((again["portainer"] as? [String: Any])?["deploys"] as? Int == 0, "created once: \(again)")
        #expect(((try services(lab)["portainer_agent"]?["Version"] as? [String: Any])?["Index"] as? Int) == version, "not touched")

        try estate.editHypervisor { root in root["docker"] = ["portainer_server_image": "lab/portainer:1", "portainer_agent_image": "lab/portainer-agent:2"] }
        let updated = try estate.json(["sync", "services"] + guests, expectStatus: 0).document
        let items = (updated["portainer"] as? [String: Any])?["stacks"] as? [[String: Any]] ?? []
        #expect(
            items.first { $0["resource"] as? String == "portainer:agent" }?["reasons"] as? [String] == ["image lab/portainer-agent:1 → lab/portainer-agent:2"])
        #expect(container(try services(lab)["portainer_agent"])["Image"] as? String == "lab/portainer-agent:2")
        #expect(try estate.phoenix(["plan", "services", "--detailed-exitcode"] + guests).status == 0)
    }
}
