import Testing

@testable import PhoenixCore

@Suite("Digests")
struct DigestTests {
    @Test("SHA-256 matches the FIPS 180-4 vectors")
    func sha256() {
        #expect(Digest.sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Digest.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("HMAC-SHA-256 matches RFC 4231")
    func hmac() {
        #expect(
            Digest.hmacSHA256Hex(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block is hashed first.
        #expect(
            Digest.hmacSHA256Hex(key: [UInt8](repeating: 0xAA, count: 131), message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}

@Suite("Plans")
struct SyncPlanTests {
    static func resource(_ id: String, _ contents: String, unit: ServiceUnit = .dnsmasq) -> Resource {
        Resource(id: id, unit: unit, path: "/etc/\(id)", contents: contents, mode: "0644", activation: .reload, origin: "test")
    }

    static func record(_ resource: Resource, contents: String? = nil) -> AppliedRecord {
        AppliedRecord(id: resource.id, unit: resource.unit, path: resource.path, mode: "0644", digest: Digest.sha256Hex(contents ?? resource.contents))
    }

    @Test("creates what is missing, updates what differs, keeps what matches")
    func actions() {
        let a = Self.resource("a", "one\ntwo\n")
        let b = Self.resource("b", "same\n")
        let c = Self.resource("c", "new\n")
        let plan = Plan(
            resources: [a, b, c], stages: [.dns], actual: ["a": "one\nTWO\n", "b": "same\n", "c": nil],
            applied: ["a": Self.record(a, contents: "one\nTWO\n"), "b": Self.record(b)])
        let byID = Dictionary(uniqueKeysWithValues: plan.changes.map { ($0.id, $0) })
        #expect(byID["a"]?.action == .update)
        #expect(byID["a"]?.reasons.first == "line 2: 1 removed, 1 added (-TWO | +two)")
        #expect(byID["a"]?.editedByHand == false, "the installed file is what phoenix last applied")
        #expect(byID["b"]?.action == .unchanged)
        #expect(byID["c"]?.action == .create)
        #expect(byID["c"]?.reasons.first == "not installed yet")
        #expect(plan.pending.count == 2)
    }

    @Test("a hand edit is named, and a file deleted by hand is created again")
    func handEdits() {
        let a = Self.resource("a", "desired\n")
        let b = Self.resource("b", "desired\n")
        let plan = Plan(resources: [a, b], stages: [.dns], actual: ["a": "edited\n", "b": nil], applied: ["a": Self.record(a), "b": Self.record(b)])
        let byID = Dictionary(uniqueKeysWithValues: plan.changes.map { ($0.id, $0) })
        #expect(byID["a"]?.editedByHand == true)
        #expect(byID["a"]?.reasons.contains("the installed file was changed by hand since phoenix last applied it") == true)
        #expect(byID["b"]?.reasons.first == "deleted by hand since phoenix last applied it")
    }

    @Test("deletes only what phoenix applied, only in the planned stages, only when it is still there")
    func deletes() {
        let gone = Self.resource("fw-old", "x", unit: .pveFirewall)
        let dnsGone = Self.resource("dns-old", "x")
        let plan = Plan(
            resources: [], stages: [.firewall], actual: ["fw-old": "x", "dns-old": "x", "foreign": "y"],
            applied: ["fw-old": Self.record(gone), "dns-old": Self.record(dnsGone)])
        #expect(plan.changes.map(\.id) == ["fw-old"])
        #expect(plan.changes.first?.action == .delete)
        let absent = Plan(resources: [], stages: [.firewall], actual: ["fw-old": nil], applied: ["fw-old": Self.record(gone)])
        #expect(absent.changes.isEmpty, "nothing to delete when the file is already gone")
    }

    @Test("a file that may hold secrets is described by line numbers only")
    func sensitiveReasons() {
        let env = Resource(
            id: "files:db/db.env", unit: .stackFiles, path: "/s/db/db.env", contents: "PASSWORD=new-secret\n", mode: "0644", activation: .none,
            origin: "stacks/db/db.env", sensitive: true)
        let plan = Plan(resources: [env], stages: [.files], actual: ["files:db/db.env": "PASSWORD=old-secret\n"], applied: [:])
        let reasons = plan.changes.first?.reasons.joined(separator: " ") ?? ""
        #expect(reasons.contains("line 1: 1 removed, 1 added (contents not shown"), "\(reasons)")
        #expect(!reasons.contains("secret\n") && !reasons.contains("old-secret") && !reasons.contains("new-secret"))
    }

    @Test("a resource an interrupted run left unfinished is activated again even when its file matches")
    func reactivation() {
        let a = Self.resource("a", "x\n")
        let plan = Plan(resources: [a], stages: [.dns], actual: ["a": "x\n"], applied: [:], reactivate: ["a"])
        #expect(plan.changes.first?.action == .update)
        #expect(plan.changes.first?.reasons.first?.contains("interrupted") == true)
    }

    @Test(
        "drift says which side moved",
        arguments: [
            ("A", "A", "A", Drift.inSync), ("A", "A", "B", .configurationChanged), ("B", "A", "A", .changedByHand), (nil, "A", "A", .deletedByHand),
            ("B", "A", "C", .both), ("A", nil, "A", .inSync), ("B", nil, "A", .neverApplied), ("A", "A", nil, .configurationChanged),
        ] as [(String?, String?, String?, Drift)])
    func drift(actual: String?, applied: String?, desired: String?, expected: Drift) {
        #expect(Drift(actual: actual, applied: applied, desired: desired) == expected)
    }

    @Test("service units have a stable key for the state store")
    func unitKeys() {
        for unit in [ServiceUnit.stackFiles, .caTrust, .dnsmasq, .pveFirewall, .traefik(guest: 102), .nginx(guest: 101)] {
            #expect(ServiceUnit(key: unit.key) == unit)
        }
        #expect(ServiceUnit(key: "nginx") == nil)
        #expect(ServiceUnit(key: "dnsmasq@3") == nil)
        #expect(ServiceUnit(key: "nginx@x") == nil)
    }
}

@Suite("Desired state")
struct DesiredStateTests {
    @Test("every rendered file of the applied stages becomes a resource with a stable id and its service")
    func resources() throws {
        let lxc = TestEstate.containers(
            TestEstate.container(101, "Nginx-Phoenix", ip: "10.0.0.10/24", extra: #""firewall": {"enabled": true, "rules": []}"#),
            TestEstate.container(102, "Traefik-Internal", ip: "10.0.0.12/24"))
        let estate = try #require(TestEstate.load(lxc: lxc).estate)
        let desired = DesiredState(estate: estate, stages: SyncStage.original, nodeName: "pve9")
        let units = Dictionary(uniqueKeysWithValues: desired.resources.map { ($0.id, $0.unit) })
        #expect(units["dns:settings"] == .dnsmasq)
        #expect(units["dns:records"] == .dnsmasq)
        #expect(units["firewall:cluster"] == .pveFirewall)
        #expect(units["firewall:host"] == .pveFirewall)
        #expect(units["firewall:guest/101"] == .pveFirewall)
        #expect(units["services:traefik-static"] == .traefik(guest: 102))
        #expect(units["services:traefik-dynamic"] == .traefik(guest: 102))
        #expect(units["gateway:site"] == .nginx(guest: 101))
        #expect(units["gateway:stream"] == .nginx(guest: 101))
        #expect(desired.resources.first { $0.id == "firewall:host" }?.path == "/etc/pve/nodes/pve9/host.fw")
        #expect(
            Set(desired.notApplied.map(\.stage)) == [.trust], "trust waits for the CA root to be exported; certs, swarm and stacks are kinds of their own")
        let withInputs = DesiredState(
            estate: estate, stages: [.files, .trust], nodeName: "pve9",
            inputs: SyncInputs(
                stackFiles: [
                    StackFile(path: "app/docker-compose.yml", contents: "services: {}\n", executable: false),
                    StackFile(path: "app/run.sh", contents: "#!/bin/sh\n", executable: true),
                    StackFile(path: "app/bad name;x", contents: "", executable: false),
                ],
                caRoot: "-----BEGIN CERTIFICATE-----\n"))
        let byID = Dictionary(uniqueKeysWithValues: withInputs.resources.map { ($0.id, $0) })
        #expect(byID["files:app/docker-compose.yml"]?.path == "/quickOS/portainer_stacks/app/docker-compose.yml")
        #expect(byID["files:app/run.sh"]?.mode == "0755")
        #expect(byID["files:app/docker-compose.yml"]?.sensitive == false, "a stack's compose file is kept whole, for rollback")
        #expect(byID["files:app/run.sh"]?.sensitive == true, "any other stack file may hold secrets")
        #expect(byID["files:app/bad name;x"] == nil)
        #expect(withInputs.notes.contains { $0.contains("bad name;x") })
        #expect(byID["trust:ca-root"]?.path == "/usr/local/share/ca-certificates/phoenix_internal_root_ca.crt")
        #expect(byID["trust:ca-root"]?.unit == .caTrust)
        #expect(withInputs.notApplied.isEmpty)
        #expect(desired.resources.first { $0.id == "dns:settings" }?.activation == .restart)
        #expect(desired.resources.first { $0.id == "dns:records" }?.activation == .reload)
        #expect(DesiredState(estate: estate, stages: [.gateway], nodeName: "x").resources.map(\.id) == ["gateway:site", "gateway:stream"])
    }

    @Test(
        "a stack's own compose file and phoenix.json are kept whole; every other stack file may hold secrets",
        arguments: [
            ("app/docker-compose.yml", false), ("app/phoenix.json", false), ("app/app.env", true), ("app/.env", true),
            ("app/conf/docker-compose.yml", true), ("app/docker-compose.yaml", true), ("app/secrets/db.key", true), ("docker-compose.yml", true),
        ])
    func stackFileSecrets(path: String, mayHoldSecrets: Bool) {
        #expect(StackFile.mayHoldSecrets(path: path) == mayHoldSecrets)
        #expect(StackFile(path: path, contents: "", executable: false).mayHoldSecrets == mayHoldSecrets)
    }

    @Test("service commands can be overridden as argv arrays, and a shell string is refused")
    func serviceCommands() throws {
        let good = TestEstate.hypervisor.replacingOccurrences(
            of: #""domain_name""#,
            with: #""phoenix": {"services": {"nginx": {"reload": ["/usr/sbin/nginx", "-s", "reload"], "test": []}}}, "domain_name""#)
        let estate = try #require(TestEstate.load(hypervisor: good).estate)
        #expect(estate.settings.commands(for: "nginx").reload == ["/usr/sbin/nginx", "-s", "reload"])
        #expect(estate.settings.commands(for: "nginx").test == nil, "[] turns the test off")
        #expect(estate.settings.commands(for: "dnsmasq").reload == ["systemctl", "kill", "--signal=HUP", "dnsmasq"], "defaults stay")

        let bad = TestEstate.hypervisor.replacingOccurrences(
            of: #""domain_name""#,
            with: #""phoenix": {"services": {"nginx": {"reload": ["systemctl reload nginx; rm -rf /"], "restart": ["nginx", "-s\nreload"]}}}, "domain_name""#)
        let report = TestEstate.load(hypervisor: bad).report
        #expect(report.hasError("hv.json", "/phoenix/services/nginx/reload", containing: "not a command"), "\(report.summary)")
        #expect(report.hasError("hv.json", "/phoenix/services/nginx/restart", containing: "not a command"), "\(report.summary)")
    }
}

@Suite("The firewall rule grammar")
struct FirewallGrammarTests {
    @Test("rendered firewall files parse")
    func rendered() throws {
        let lxc = TestEstate.containers(
            TestEstate.container(
                101, "web", ip: "10.0.0.10/24",
                extra:
                    #""firewall": {"enabled": true, "rules": [{"type": "in", "action": "accept", "proto": "tcp", "port": "80,443", "source": "10.0.0.0/24", "iface": "eth0", "log": "info", "comment": "web # and more"}]}"#
            ))
        let estate = try #require(TestEstate.load(lxc: lxc).estate)
        let files = EstateRenderer(estate: estate, defaultNodeName: "pve").render([.firewall]).files
        #expect(files.count == 3)
        for file in files { #expect(FirewallGrammar.problems(in: file.contents).isEmpty, "\(file.path): \(FirewallGrammar.problems(in: file.contents))") }
    }

    @Test(
        "what pve-firewall would refuse is found, with its line",
        arguments: [
            ("[RULES]\nIN ACCEPT -iface vmbr0\n", "line 2: -iface is not an option pve-firewall accepts"),
            ("[RULES]\nIN ACCEPT -p\n", "line 2: -p has no value"),
            ("[RULES]\nSIDEWAYS ACCEPT\n", "line 2: SIDEWAYS is not a rule direction"),
            ("[RULES]\nIN ALLOW -p tcp\n", "line 2: ALLOW is not a rule action"),
            ("[OPTIONS]\nenable 1\n", "line 2: an option must be key: value"),
            ("IN ACCEPT\n", "line 1: content before the first section"),
            ("[RULES\n", "line 1: unterminated section header"),
        ])
    func refused(text: String, problem: String) {
        #expect(FirewallGrammar.problems(in: text) == [problem])
    }
}

@Suite("Proxmox guest configuration")
struct ProxmoxGuestConfigTests {
    @Test("an LXC's and a VM's entries become the parameters Proxmox takes")
    func parameters() throws {
        let lxc = TestEstate.containers(
            TestEstate.container(
                101, "Web", ip: "10.0.0.10/24",
                extra:
                    #""cores": 2, "memory_mb": 2048, "swap_mb": 512, "boot_order": 3, "start_at_boot": true, "network_config": {"name": "eth0", "bridge": "vmbr1", "ip": "10.0.0.10/24", "gw": "10.0.0.1", "hwaddr": "02:00:00:00:01:01"}"#
            ))
        let vm =
            #"{"vms": [{"vmid": 1001, "name": "swarm", "cores": 4, "memory_mb": 8192, "network_config": {"bridge": "vmbr0", "ip": "10.0.0.111/24", "gw": "10.0.0.1"}}]}"#
        let estate = try #require(TestEstate.load(lxc: lxc, vm: vm).estate)
        let container = ProxmoxGuestConfig.settings(for: try #require(estate.guest(101)))
        #expect(
            container.map { "\($0.key)=\($0.value)" } == [
                "hostname=web", "cores=2", "memory=2048", "swap=512", "onboot=1", "startup=order=3",
                "net0=name=eth0,bridge=vmbr1,ip=10.0.0.10/24,gw=10.0.0.1,hwaddr=02:00:00:00:01:01",
            ])
        let machine = ProxmoxGuestConfig.settings(for: try #require(estate.guest(1001)))
        #expect(
            machine.map { "\($0.key)=\($0.value)" } == [
                "name=swarm", "cores=4", "memory=8192", "onboot=0", "net0=virtio,bridge=vmbr0", "ipconfig0=ip=10.0.0.111/24,gw=10.0.0.1",
            ])
        #expect(ProxmoxGuestConfig.tags(merging: ["web", "phoenix-managed"]) == "phoenix-managed;web")
    }

    @Test("option strings compare by their parts: what Proxmox adds itself is left alone")
    func differences() {
        let desired = [("net0", "name=eth0,bridge=vmbr1,ip=10.0.0.10/24"), ("cores", "2"), ("memory", "2048"), ("startup", "order=3")]
        let actual = ["net0": "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:00:00:01,ip=10.0.0.10/24,type=veth", "cores": "1", "startup": "order=3"]
        #expect(
            ProxmoxGuestConfig.differences(desired: desired, actual: actual) == [
                ConfigChange(key: "cores", from: "1", to: "2"), ConfigChange(key: "memory", from: nil, to: "2048"),
            ])
        #expect(ProxmoxGuestConfig.differences(desired: [("net0", "virtio,bridge=vmbr0")], actual: ["net0": "virtio=BC:24:11:50:F3:77,bridge=vmbr0"]).isEmpty)
        #expect(ProxmoxGuestConfig.differences(desired: [("net0", "virtio")], actual: ["net0": "virtio=BC:24:11:50:F3:77"]).isEmpty)
        #expect(
            ProxmoxGuestConfig.differences(desired: [("net0", "virtio,bridge=vmbr1")], actual: ["net0": "virtio=BC:24:11:50:F3:77,bridge=vmbr0"]).count == 1)
    }

    @Test("hardware values that are not what they claim are refused with their pointer")
    func refused() {
        let lxc = TestEstate.containers(
            TestEstate.container(
                101, "web", ip: "dhcp",
                extra:
                    #""cores": 0, "storage_pool": "local;rm", "template": "local:vztmpl/x y.tar", "network_config": {"ip": "dhcp", "bridge": "vmbr 0", "hwaddr": "02:00:zz:00:01:01"}"#
            ))
        let report = TestEstate.load(lxc: lxc).report
        #expect(report.hasError("lxc.json", "/lxc_configs/101/cores", containing: "not a valid number of cores"), "\(report.summary)")
        #expect(report.hasError("lxc.json", "/lxc_configs/101/storage_pool", containing: "not a storage name"))
        #expect(report.hasError("lxc.json", "/lxc_configs/101/template", containing: "not an OS template"))
        #expect(report.hasError("lxc.json", "/lxc_configs/101/network_config/bridge", containing: "not a bridge name"))
        #expect(report.hasError("lxc.json", "/lxc_configs/101/network_config/hwaddr", containing: "not a MAC address"))
    }

    @Test("tags: a list or one string, lower-cased; converge adds what is missing and keeps tags set by hand; a bad tag names its pointer")
    func tags() throws {
        let lxc = TestEstate.containers(
            TestEstate.container(101, "web", ip: "dhcp", extra: #""tags": ["Web", "prod"]"#),
            TestEstate.container(102, "db", ip: "dhcp", extra: #""tags": "db;prod""#))
        let estate = try #require(TestEstate.load(lxc: lxc).estate)
        #expect(estate.guest(101)?.hardware.tags == ["web", "prod"])
        #expect(estate.guest(102)?.hardware.tags == ["db", "prod"])
        #expect(ProxmoxGuestConfig.tagChange(desired: ["web", "prod"], actual: "phoenix-managed;prod;web") == nil)
        #expect(
            ProxmoxGuestConfig.tagChange(desired: ["web", "prod"], actual: "by-hand;phoenix-managed")
                == ConfigChange(key: "tags", from: "by-hand;phoenix-managed", to: "by-hand;phoenix-managed;prod;web"))
        #expect(ProxmoxGuestConfig.tagChange(desired: [], actual: nil) == nil)
        let fingerprint = ProxmoxGuestConfig.fingerprint(for: try #require(estate.guest(101)))
        var retagged = try #require(estate.guest(101))
        retagged.hardware.tags = ["web"]
        #expect(ProxmoxGuestConfig.fingerprint(for: retagged) != fingerprint, "a tag change is a configuration change")

        let bad = TestEstate.load(lxc: TestEstate.containers(TestEstate.container(101, "web", ip: "dhcp", extra: #""tags": ["ok", "no spaces!"]"#))).report
        #expect(bad.hasError("lxc.json", "/lxc_configs/101/tags/1", containing: "is not a Proxmox tag"), "\(bad.summary)")
        let wrongType = TestEstate.load(lxc: TestEstate.containers(TestEstate.container(101, "web", ip: "dhcp", extra: #""tags": 7"#))).report
        #expect(wrongType.hasError("lxc.json", "/lxc_configs/101/tags", containing: "tags must be a list of strings or one string"))
    }
}

@Suite("Firewall edits through the API")
struct FirewallAPIPlanTests {
    static func rule(_ port: String, managed: Bool = true) -> APIRule {
        var rule = APIRule(FirewallRule(direction: .in, action: .accept, proto: "tcp", dport: port, comment: "port \(port)", enabled: true))
        if !managed { rule.comment = "by hand" }
        return rule
    }

    /// Applies edits the way Proxmox does, to check where the rules end up.
    static func applied(_ edits: [FirewallEdit], to list: [APIRule]) -> [APIRule] {
        var list = list
        for edit in edits {
            switch edit {
            case let .delete(position, _): list.remove(at: position)
            case let .insert(position, rule): list.insert(rule, at: position)
            }
        }
        return list
    }

    @Test(
        "the smallest edit: matching rules stay, others' rules are never touched",
        arguments: [
            (["22", "80", "443"], ["22", "80", "443"], 0),
            (["22", "80", "443"], ["22", "8080", "443"], 2),
            (["22", "443"], ["22", "80", "443"], 1),
            ([], ["22", "80"], 2),
            (["22", "80", "443"], ["443"], 2),
            (["80", "22"], ["22", "80"], 2),
        ])
    func smallest(actual: [String], desired: [String], editCount: Int) {
        let foreign = Self.rule("9999", managed: false)
        let current = [foreign] + actual.map { Self.rule($0) }
        let wanted = desired.map { Self.rule($0) }
        let edits = FirewallAPIPlan.edits(actual: current, desired: wanted)
        #expect(edits.count == editCount)
        let result = Self.applied(edits, to: current)
        #expect(result.filter(\.isManaged) == wanted)
        #expect(result.first == foreign, "the rule phoenix does not manage stays where it was")
    }

    @Test("rules carry phoenix's marker and read back from the API the same")
    func roundTrip() {
        let rule = APIRule(FirewallRule(direction: .out, action: .drop, proto: "udp", dport: "53", comment: "no DNS out", enabled: false))
        #expect(rule.comment == "[phoenix] no DNS out")
        #expect(rule.text == "|OUT DROP -p udp -dport 53 # [phoenix] no DNS out")
        let json = JSONValue.object(rule.parameters.map { ($0.0, $0.0 == "enable" ? .number(Double($0.1)!) : .string($0.1)) })
        #expect(APIRule(json: json) == rule)
    }
}
