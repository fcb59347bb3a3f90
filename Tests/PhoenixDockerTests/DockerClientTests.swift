import Foundation
import PhoenixCLI
import PhoenixCore
import PhoenixDocker
import PhoenixServices
import PhoenixTesting
import Testing

/// The Engine API client against a scripted transport (it stands in for the daemon: no socket).
@Suite("The Docker Engine API client")
struct DockerClientTests {
    static func answer(_ json: String, status: Int = 200) -> HTTPResponseMessage {
        HTTPResponseMessage(status: status, reason: "", body: Array(json.utf8))
    }

    @Test("the API version is negotiated once, capped at the newest phoenix speaks; every request sends Host")
    func negotiation() async throws {
        let transport = ScriptedHTTPTransport { request, _ throws(HTTPTransportError) in
            switch request.url {
            case "/version": return Self.answer(#"{"ApiVersion":"1.47","MinAPIVersion":"1.24"}"#)
            default: return Self.answer(#"{"Name":"m1","Swarm":{"LocalNodeState":"inactive","NodeID":""}}"#)
            }
        }
        let client = DockerClient(endpoint: try #require(DockerEndpoint("unix:///run/docker.sock")), transport: transport)
        let info = try await client.info()
        _ = try await client.info()
        #expect(info.name == "m1" && info.swarmState == "inactive" && !info.isManager)
        #expect(transport.requests.map(\.url) == ["/version", "/v1.43/info", "/v1.43/info"])
        #expect(transport.requests.allSatisfy { $0.header("Host") == "docker" })
        #expect(await client.calls == 3)

        let old = DockerClient(
            endpoint: try #require(DockerEndpoint("tcp://10.0.0.111:2376")),
            transport: ScriptedHTTPTransport { request, _ throws(HTTPTransportError) in
                #expect(request.header("Host") == "10.0.0.111:2376")
                return Self.answer(#"{"ApiVersion":"1.41"}"#)
            })
        #expect(try await old.apiVersion() == "1.41", "Docker 20.10 is spoken in its own version")
        let ancient = DockerClient(
            endpoint: try #require(DockerEndpoint("unix:///s")),
            transport: ScriptedHTTPTransport { _, _ throws(HTTPTransportError) in Self.answer(#"{"ApiVersion":"1.30"}"#) })
        await #expect(throws: DockerError.self) { try await ancient.apiVersion() }
    }

    @Test("an error names the call, the endpoint and Docker's message; a transport failure says what to check")
    func errors() async throws {
        let transport = ScriptedHTTPTransport { request, _ throws(HTTPTransportError) in
            if request.url == "/version" { return Self.answer(#"{"ApiVersion":"1.41"}"#) }
            return Self.answer(#"{"message":"This node is not a swarm manager."}"#, status: 503)
        }
        let client = DockerClient(endpoint: try #require(DockerEndpoint("unix:///run/docker.sock")), transport: transport)
        do throws(DockerError) {
            _ = try await client.nodes()
            Issue.record("no error")
        } catch {
            #expect(error.description == "GET /nodes on unix:///run/docker.sock: Docker answered 503: This node is not a swarm manager.")
        }
        let down = DockerClient(
            endpoint: try #require(DockerEndpoint("unix:///gone")),
            transport: ScriptedHTTPTransport { _, _ throws(HTTPTransportError) in throw .unreachable("no socket at the endpoint") })
        do throws(DockerError) {
            _ = try await down.info()
            Issue.record("no error")
        } catch {
            #expect(error.kind == .unreachable)
            #expect(error.description.hasPrefix("GET /version on unix:///gone: the Docker daemon cannot be reached: no socket at the endpoint"))
        }
    }

    @Test("a secret's value and a join token travel only in request bodies, never in a URL")
    func secretsInBodies() async throws {
        let transport = ScriptedHTTPTransport { request, _ throws(HTTPTransportError) in
            switch request.url {
            case "/version": return Self.answer(#"{"ApiVersion":"1.41"}"#)
            case "/v1.41/swarm": return Self.answer(#"{"JoinTokens":{"Worker":"SWMTKN-1-worker-secret","Manager":"SWMTKN-1-manager-secret"}}"#)
            default: return Self.answer("{}")
            }
        }
        let client = DockerClient(endpoint: try #require(DockerEndpoint("unix:///s")), transport: transport)
        try await client.createSecret("db_password_abc", value: Secret("hunter2"), labels: ["io.phoenix.secret": "db_password"])
        let tokens = try await client.joinTokens()
        #expect("\(tokens.worker)" == "<redacted>")
        try await client.joinSwarm(manager: "10.0.0.1:2377", token: tokens.worker, advertise: "10.0.0.2")
        let create = try #require(transport.requests.first { $0.url == "/v1.41/secrets/create" })
        let body = String(decoding: create.body ?? [], as: UTF8.self)
        #expect(body.contains(Data("hunter2".utf8).base64EncodedString()) && !body.contains("hunter2"))
        #expect(transport.requests.allSatisfy { !$0.url.contains("hunter2") && !$0.url.contains("SWMTKN") })
        let join = try #require(transport.requests.first { $0.url == "/v1.41/swarm/join" })
        #expect(String(decoding: join.body ?? [], as: UTF8.self).contains(#""JoinToken":"SWMTKN-1-worker-secret""#))
    }

    @Test("endpoints: unix and tcp forms; the CLI gets --host and the TLS file paths, never their contents")
    func endpoints() throws {
        #expect(DockerEndpoint("unix:///var/run/docker.sock")?.description == "unix:///var/run/docker.sock")
        let tls = DockerEndpoint.TLS(caFile: "/etc/docker/tls/ca.pem", certFile: "/etc/docker/tls/cert.pem", keyFile: "/etc/docker/tls/key.pem")
        let tcp = try #require(DockerEndpoint("tcp://10.0.0.111:2376", tls: tls))
        #expect(
            tcp.cliArguments == [
                "--host", "tcp://10.0.0.111:2376", "--tlsverify", "--tlscacert", "/etc/docker/tls/ca.pem", "--tlscert", "/etc/docker/tls/cert.pem",
                "--tlskey", "/etc/docker/tls/key.pem",
            ])
        for bad in ["http://x:1", "tcp://x", "tcp://host:0", "unix://relative", "tcp://a b:1"] { #expect(DockerEndpoint(bad) == nil, "\(bad)") }
        // The CLI's environment: what it needs, nothing of phoenix's own secrets or endpoints.
        let environment = CLIStackDeployer.environment([
            "PATH": "/usr/bin", "HOME": "/root", "PHOENIX_API_TOKEN": "root@pam!t=secret", "DOCKER_HOST": "tcp://elsewhere:2375",
        ])
        #expect(environment == ["PATH=/usr/bin", "HOME=/root"])
    }
}

@Suite("Swarm pieces without a daemon")
struct SwarmPieceTests {
    static let compose = """
        services:
          web:
            image: lab/web:1
            deploy:
              labels: [a=b]
            secrets: [db_password, {source: tls_cert, target: /certs/cert.pem}]
          worker:
            image: lab/worker:1
            deploy:
              labels: {x: "y"}
        networks:
          traefik-public: {external: true}
          own: {}
          legacy: {external: {name: old-net}}
        secrets:
          db_password: {external: true}
          tls_cert: {external: true, name: portainer_tls_cert.pem}
          inline: {file: ./x.txt}

        """

    @Test("a compose file's external networks and secrets; the deploy form points secrets at their versions and labels every service")
    func composeForms() throws {
        let compose = try StackCompose(Self.compose)
        #expect(compose.services == ["web", "worker"])
        #expect(compose.externalNetworks == ["traefik-public", "old-net"])
        #expect(compose.externalSecrets.map(\.key) == ["db_password", "tls_cert"])
        #expect(compose.externalSecrets.map(\.name) == ["db_password", "portainer_tls_cert.pem"])
        let deployed = try compose.deployForm(versions: ["db_password": "db_password_0123456789ab"], spec: "cafe")
        let again = try StackCompose(deployed)
        #expect(again.externalSecrets.map(\.name) == ["db_password_0123456789ab", "portainer_tls_cert.pem"], "the key stays; only the name moves")
        #expect(deployed.contains("- a=b") && deployed.contains("- io.phoenix.spec=cafe"), "a list of labels stays a list:\n\(deployed)")
        #expect(
            deployed.contains("io.phoenix.spec: cafe") && (deployed.contains("x: y") || deployed.contains("x: \"y\"")),
            "a mapping stays a mapping:\n\(deployed)")
        #expect(again.changedKeys(of: "web", from: compose) == [], "phoenix's own label is not a change")
        let moved = try StackCompose(Self.compose.replacingOccurrences(of: "lab/web:1", with: "lab/web:2"))
        #expect(moved.changedKeys(of: "web", from: compose) == ["image"])
        let asked = compose.requested("web", namespace: "p")
        #expect(asked["image"] == "lab/web:1" && asked["replicas"] == "1" && asked["labels"] == "a=b")
        #expect(asked["secrets"] == "db_password,portainer_tls_cert.pem", "external secrets by their Swarm names")
        #expect(asked["networks"] == "p_default", "no networks: the stack's default one")
        #expect(throws: StackCompose.Failure.self) { try StackCompose("services: {}\n") }
        #expect(throws: StackCompose.Failure.self) { try StackCompose("- a\n") }
    }

    @Test("secret versions: a keyed hash of the value, stable for one key, new for a new value, unlike under another key; no key names none")
    func secretVersions() throws {
        let estate = try SwarmFixtures.estate()
        let desired = SwarmDesired(estate: estate)
        let versions = SecretVersions(estate: estate, desired: desired)
        let key = ContentDigests(key: Array(repeating: 7, count: 32))
        let name = try #require(versions.version("portainer_admin_password", digests: key)?.name)
        #expect(name.hasPrefix("portainer_admin_password_") && name.count == "portainer_admin_password_".count + 12)
        #expect(versions.version("portainer_admin_password", digests: key) == .named(name))
        #expect(versions.version("portainer_admin_password", digests: ContentDigests(key: Array(repeating: 8, count: 32)))?.name != name)
        var changed = estate
        changed.portainerAdminPassword = Secret("another")
        #expect(SecretVersions(estate: changed, desired: desired).version("portainer_admin_password", digests: key)?.name != name)
        #expect(!name.contains(estate.portainerAdminPassword!.revealed))
        // Before the state store exists there is no key: the version is new, and it has no name yet.
        #expect(versions.version("portainer_admin_password", digests: ContentDigests(key: nil)) == .unnamed)
    }

    /// A daemon's answers for the plan (the scripted transport stands in for dockerd; the Swarm
    /// tests run the same plan against a real one): a manager not in a Swarm yet, or an active one
    /// holding an earlier version of the admin password secret.
    static func swarmPlan(active: Bool, digests: ContentDigests) async throws -> SwarmConvergence.Item {
        let estate = try SwarmFixtures.estate()
        let transport = ScriptedHTTPTransport { request, _ throws(HTTPTransportError) in
            let path = request.url.split(separator: "?").first.map(String.init) ?? request.url
            switch path {
            case "/version": return DockerClientTests.answer(#"{"ApiVersion":"1.43"}"#)
            case "/v1.43/info":
                return DockerClientTests.answer(
                    active
                        ? #"{"Name":"m","Swarm":{"LocalNodeState":"active","NodeID":"n1","ControlAvailable":true}}"#
                        : #"{"Name":"m","Swarm":{"LocalNodeState":"inactive","NodeID":""}}"#)
            case "/v1.43/secrets":
                return DockerClientTests.answer(
                    #"[{"ID":"s1","Spec":{"Name":"portainer_admin_password_0123456789ab","Labels":{"io.phoenix.secret":"portainer_admin_password"}}}]"#)
            default: return DockerClientTests.answer("[]")
            }
        }
        let connections = SwarmConnections(settings: estate.settings.docker) { endpoint throws(DockerError) in
            DockerClient(endpoint: endpoint, transport: transport)
        }
        let report = await SwarmConvergence(estate: estate, connections: connections).plan(digests: digests)
        #expect(report.error == nil, "\(report.error ?? "")")
        return try #require(report.items.first { $0.id == SwarmKind.secretID("portainer_admin_password") }, "\(report.items.map(\.id))")
    }

    @Test("a plan without a state store key names no version suffix; with the key it names the one sync creates")
    func planWithoutKey() async throws {
        let fresh = try await Self.swarmPlan(active: false, digests: ContentDigests(key: nil))
        let line = try #require(fresh.lines.first)
        #expect(line.hasPrefix("create portainer_admin_password, a new version (its name is fixed when sync creates the state store)"), "\(line)")
        #expect(!line.contains("portainer_admin_password_"), "no suffix sync would not use: \(line)")
        #expect(fresh.steps == [.createSecret(name: "portainer_admin_password", versioned: nil)])

        // An earlier version on the Swarm and still no key: a new version, unnamed; the old one
        // (no service uses it) is pruned after sync, by its real name.
        let again = try await Self.swarmPlan(active: true, digests: ContentDigests(key: nil))
        #expect(
            again.lines.first?.hasPrefix("new version of portainer_admin_password (its name is fixed when sync creates the state store)") == true,
            "\(again.lines)")
        #expect(again.lines.contains("prune portainer_admin_password_0123456789ab (no service uses it)"), "\(again.lines)")

        let key = ContentDigests(key: Array(repeating: 7, count: 32))
        let named = try await Self.swarmPlan(active: false, digests: key)
        let versioned = try #require(
            SecretVersions(estate: try SwarmFixtures.estate(), desired: SwarmDesired(estate: try SwarmFixtures.estate())).version(
                "portainer_admin_password", digests: key)?.name)
        #expect(named.lines.first?.hasPrefix("create \(versioned)") == true, "\(named.lines)")
        #expect(named.steps == [.createSecret(name: "portainer_admin_password", versioned: versioned)])
    }

    @Test("service summaries: environment names and a keyed hash of the values, never a value; differences in words")
    func summaries() throws {
        let digests = ContentDigests(key: [1, 2, 3])
        func service(env: [String], replicas: Int, image: String) -> SwarmService {
            let spec = JSONValue.object([
                ("Name", .string("p_web")), ("Labels", .object([("com.docker.stack.namespace", .string("p")), ("io.phoenix.spec", .string("h"))])),
                ("Mode", .object([("Replicated", .object([("Replicas", .number(Double(replicas)))]))])),
                (
                    "TaskTemplate",
                    .object([("ContainerSpec", .object([("Image", .string(image)), ("Env", .array(env.map(JSONValue.string)))]))])
                ),
            ])
            return SwarmService(id: "x", name: "p_web", version: 1, spec: spec, previousSpec: nil, updateState: nil, updateMessage: nil, updatedAt: "")
        }
        let before = ServiceSummary(service(env: ["A=1", "PASSWORD=hunter2"], replicas: 2, image: "lab/web:1"), networkNames: [:], digests: digests)
        #expect(!before.text.contains("hunter2") && before.fields["env"] == "A,PASSWORD")
        #expect(ServiceSummary(text: before.text) == before)
        let after = ServiceSummary(service(env: ["A=1", "PASSWORD=changed", "B=2"], replicas: 3, image: "lab/web:2"), networkNames: [:], digests: digests)
        #expect(after.differences(from: before) == ["env +B", "image lab/web:1 → lab/web:2", "replicas 2 → 3"])
        let valueOnly = ServiceSummary(service(env: ["A=1", "PASSWORD=changed"], replicas: 2, image: "lab/web:1"), networkNames: [:], digests: digests)
        #expect(valueOnly.differences(from: before) == ["environment values changed"])
    }
}

enum SwarmFixtures {
    /// The example estate, loaded.
    static func estate() throws -> Estate {
        let root = TestPaths.exampleEstate
        let result = EstateLoader().load(ConfigReader(configDirectory: "\(root)/etc", stacksDirectory: "\(root)/stacks").read())
        return try #require(result.estate, "\(result.report.errors.map(\.message))")
    }
}
