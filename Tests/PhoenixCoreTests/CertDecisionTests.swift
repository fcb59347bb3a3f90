import Foundation
import PhoenixTesting
import Testing

@testable import PhoenixCore

@Suite("Certificates: the decision, the windows, the original's hooks")
struct CertDecisionTests {
    static func request(dns: [String] = ["app.lab.test"], ips: [String] = []) -> CertificateRequest {
        CertificateRequest(
            commonName: "app.lab.test", dnsNames: dns.compactMap { DNSName($0, allowWildcard: true) }, ipAddresses: ips.compactMap { IPAddress($0) },
            guestID: nil, guestKind: nil, certPath: "/c.crt", keyPath: "/c.key", owner: "root", group: "root", certMode: "0644", keyMode: "0600",
            includeCA: false, certType: "server", hooks: [], location: SourceLocation(file: "m.json", pointer: .root))
    }

    static func facts(dns: Set<String> = ["app.lab.test"], ips: Set<String> = [], from: Date, to: Date, key: Bool? = true) -> CertificateFacts {
        CertificateFacts(
            commonName: "app.lab.test", dnsNames: dns, ipAddresses: Set(ips.compactMap { IPAddress($0) }), serial: "01", notBefore: from, notAfter: to,
            issuer: "CN=Lab",
            fingerprint: "ab", keyMatches: key, chainsToRoot: true)
    }

    @Test("missing, mismatched, expired, due and valid are told apart; SANs compare as two sets")
    func states() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let day = TimeInterval(86400)
        let window = RenewalWindow.fraction(1.0 / 3.0)
        let fresh = Self.facts(ips: ["10.0.0.7"], from: now - 3600, to: now + day - 3600)
        let ipRequest = Self.request(ips: ["10.0.0.7"])
        #expect(CertAssessment.assess(ipRequest, facts: fresh, window: window, now: now).action == .none, "IP SANs match: nothing to do")
        #expect(CertAssessment.assess(ipRequest, facts: nil, window: window, now: now).state == .missing)
        let extraSAN = CertAssessment.assess(Self.request(dns: ["app.lab.test", "b.lab.test"], ips: ["10.0.0.7"]), facts: fresh, window: window, now: now)
        #expect(extraSAN.state == .mismatch && extraSAN.action == .sign)
        #expect(extraSAN.reasons == ["DNS names +b.lab.test"])
        let lostIP = CertAssessment.assess(Self.request(), facts: fresh, window: window, now: now)
        #expect(lostIP.reasons == ["IP addresses -10.0.0.7"])
        let wrongKey = Self.facts(ips: ["10.0.0.7"], from: now - 3600, to: now + day, key: false)
        #expect(CertAssessment.assess(ipRequest, facts: wrongKey, window: window, now: now).action == .sign)
        let old = Self.facts(ips: ["10.0.0.7"], from: now - day, to: now - 1)
        #expect(CertAssessment.assess(ipRequest, facts: old, window: window, now: now).state == .expired)
        let due = Self.facts(ips: ["10.0.0.7"], from: now - 0.7 * day, to: now + 0.3 * day)
        let assessed = CertAssessment.assess(ipRequest, facts: due, window: window, now: now)
        #expect(assessed.state == .renewDue && assessed.action == .renew)
        #expect(CertAssessment.assess(ipRequest, facts: due, window: .duration(3600), now: now).action == .none)
        #expect(CertAssessment.assess(ipRequest, facts: fresh, window: window, now: now, force: true).action == .renew)
    }

    @Test("IPv4 and IPv6 SANs compare as one normalised set: another spelling of an address is no change, another address is")
    func ipSANs() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let window = RenewalWindow.fraction(1.0 / 3.0)
        let installed = Self.facts(ips: ["10.0.0.7", "fd00::5", "::1"], from: now - 3600, to: now + 86400)
        let same = Self.request(ips: ["0:0::1", "FD00:0:0::0005", "10.0.0.7", "::ffff:10.0.0.7"])
        #expect(CertAssessment.assess(same, facts: installed, window: window, now: now).action == .none)
        let moved = CertAssessment.assess(Self.request(ips: ["10.0.0.7", "fd00::6", "::1"]), facts: installed, window: window, now: now)
        #expect(moved.action == .sign)
        #expect(moved.reasons == ["IP addresses +fd00::6 -fd00::5"])
        let mixed = CertAssessment.assess(
            Self.request(ips: ["::1"]), facts: Self.facts(ips: ["127.0.0.1"], from: now - 3600, to: now + 86400), window: window, now: now)
        #expect(mixed.reasons == ["IP addresses +::1 -127.0.0.1"], "::1 is not 127.0.0.1")
    }

    @Test("renewal windows and durations parse as people write them")
    func windows() {
        #expect(RenewalWindow("1/3") == .fraction(1.0 / 3.0))
        #expect(RenewalWindow("25%") == .fraction(0.25))
        #expect(RenewalWindow("0.5") == .fraction(0.5))
        #expect(RenewalWindow("8h") == .duration(8 * 3600))
        #expect(RenewalWindow("1h30m") == .duration(5400))
        #expect(RenewalWindow("soon") == nil)
        #expect(RenewalWindow("3/2") == nil)
        #expect(Durations.goText(36 * 3600) == "36h")
        #expect(Durations.goText(90) == "1m30s")
        #expect(Durations.text(2 * 86400 + 60) == "2d1m")
    }

    @Test(
        "the original's eight hooks reduce to their reloads, the docker reload to a restart, the secrets to the swarm stage",
        .enabled(if: TestPaths.referenceAvailable, Comment(rawValue: TestPaths.referenceReason)))
    func originalHooks() throws {
        let configs = try #require(TestPaths.referenceConfigs, "\(TestPaths.referenceReason)")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(configs)/etc/certificate-manifest.json"))
        let entries = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var hooks: [String: [CertHook]] = [:]
        for entry in entries {
            hooks[entry["common_name"] as! String] = CertHook.parse(entry["post_renewal_command"] as! String)
        }
        #expect(hooks.count == 8)
        #expect(hooks["nginx.internal.thinkheads.ai"] == [.service(verb: "reload", unit: "nginx", guest: 101)])
        #expect(hooks["traefik.internal.thinkheads.ai"] == [.service(verb: "restart", unit: "traefik", guest: 102)])
        #expect(hooks["traefik-client.internal.thinkheads.ai"] == [.service(verb: "restart", unit: "traefik", guest: 102)])
        #expect(hooks["drphoenix-agent.internal.thinkheads.ai"] == [.service(verb: "restart", unit: "docker", guest: 1002)])
        #expect(hooks["docker-daemon.internal.thinkheads.ai"] == [.service(verb: "restart", unit: "docker", guest: 1001)])
        #expect(hooks["nginx-gateway-client"] == [])
        #expect(
            hooks["portainer.internal.thinkheads.ai"] == [
                .swarmSecrets([
                    CertSecretFeed(secret: "portainer_tls_cert.pem", part: .certificate), CertSecretFeed(secret: "portainer_tls_key.pem", part: .key),
                    CertSecretFeed(secret: "portainer_tls_ca.pem", part: .ca),
                ])
            ])
        #expect(
            hooks["portainer-client.internal.thinkheads.ai"] == [
                .swarmSecrets([
                    CertSecretFeed(secret: "portainer_client_cert", part: .certificate), CertSecretFeed(secret: "portainer_client_key", part: .key),
                ])
            ])
    }

    @Test("a hook of our own: a plain reload is understood, a sequence reduces to its reload, logic phoenix does not guess at runs through sh -c")
    func ownHooks() {
        #expect(CertHook.parse("systemctl reload nginx") == [.service(verb: "reload", unit: "nginx", guest: nil)])
        // `;` and new lines separate steps like `&&`; the reload is never dropped with the mv before it.
        #expect(
            CertHook.parse("pct exec 101 -- bash -c 'mv /tmp/cert.pem /etc/x.crt; mv /tmp/key.pem /etc/x.key; systemctl reload nginx'")
                == [.service(verb: "reload", unit: "nginx", guest: 101)])
        #expect(
            CertHook.parse("pct exec 101 -- bash -c 'systemctl reload nginx || systemctl restart nginx'")
                == [.shell("pct exec 101 -- bash -c 'systemctl reload nginx || systemctl restart nginx'")])
        #expect(CertHook.parse("curl -X POST http://x/reload") == [.shell("curl -X POST http://x/reload")])
        #expect(CertHook.parse("pct exec 101 -- bash -c 'echo hi | tee /x'") == [.shell("pct exec 101 -- bash -c 'echo hi | tee /x'")])
    }
}
