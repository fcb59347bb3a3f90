import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// The certificates' kind driven by the sync service and the executor over
/// `FakeCertificateAuthority` (real X.509 certificates, signed in memory; the integration suite
/// CertTests runs a real step-ca) and `FakeMachine`s for the host and guest 101 (no root, no
/// container here: owners and modes are the fake's). The state store is the in-memory double.
// The limit catches a hang; it is minutes, not seconds, because under the whole suite on two cores
// these share the pool with the integration tests that block while they wait for real servers.
@Suite("Certificates over the fake CA and fake machines", .timeLimit(.minutes(3)))
struct CertsOverFakeCATests {
    static let id = "cert:\(FakeEstate.certificate)"
    static let hostCert = "/tank/certs/web.crt"
    static let hostKey = "/tank/certs/web.key"
    static let guestCert = "/etc/nginx/ssl/web.crt"
    static let guestKey = "/etc/nginx/ssl/web.key"

    struct Lab {
        let estate: Estate
        let ca: FakeCertificateAuthority
        let host: FakeMachine
        let guest: FakeMachine

        func run(failpoints: String? = nil) -> FakeRun { FakeRun(estate: estate, ca: ca, host: host, guest: guest, failpoints: failpoints) }
    }

    /// The host with the CA's root and the provisioner's password; guest 101 answers every command.
    static func lab() throws -> Lab {
        let ca = try FakeCertificateAuthority()
        let host = FakeMachine(
            name: "the host",
            files: [
                FakeEstate.rootFile: FileFacts(contents: ca.rootPEM, owner: "root", group: "root", mode: "0644"),
                FakeEstate.passwordFile: FileFacts(contents: ca.password + "\n", owner: "root", group: "root", mode: "0600"),
            ])
        let guest = FakeMachine(name: "guest 101") { _ in CommandResult(status: 0, stdout: "", stderr: "") }
        return Lab(estate: try FakeEstate().load(), ca: ca, host: host, guest: guest)
    }

    static func reloads(_ guest: FakeMachine) -> Int { guest.commands.filter { $0.contains("reload") }.count }

    @Test("before the CA guest exports its root, the certificates are not applied: a complete plan (exit 0), a sync that signs nothing, no failure")
    func notReady() async throws {
        let lab = try Self.lab()
        try await lab.host.remove(FakeEstate.rootFile)
        let plan = try await lab.run().service().plan(store: nil)
        #expect(plan.unplanned.isEmpty, "a stage that cannot run yet is not an incomplete plan: \(plan.unplanned)")
        let results = Dictionary(uniqueKeysWithValues: plan.reports.flatMap(\.results).map { ($0.id, $0) })
        #expect(results[Self.id]?.outcome.word == "not applied", "\(results[Self.id].map { "\($0.outcome)" } ?? "not in the plan")")
        let store = InMemoryStateStore()
        let outcome = try await lab.run().service().sync(store: store, command: "sync certs")
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")
        #expect(lab.ca.counts["sign", default: 0] == 0 && lab.host.file(Self.hostCert) == nil)
    }

    @Test("a missing certificate is signed with a one-time token, installed on the host and in the guest with its owner and mode, nginx reloaded")
    func issue() async throws {
        let lab = try Self.lab()
        let service = lab.run().service()
        let store = InMemoryStateStore()
        let outcome = try await service.sync(store: store, command: "sync certs")
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")
        #expect(lab.ca.issued == [FakeEstate.certificate] && lab.ca.counts["sign"] == 1)
        let cert = try #require(lab.host.file(Self.hostCert))
        let key = try #require(lab.host.file(Self.hostKey))
        #expect(cert.contents.hasPrefix("-----BEGIN CERTIFICATE-----") && cert.contents.hasSuffix(lab.ca.rootPEM), "the leaf, then its issuer")
        #expect((cert.owner, cert.group, cert.mode) == ("root", "www-data", "0644"))
        #expect((key.owner, key.group, key.mode) == ("root", "www-data", "0640"))
        #expect(key.contents.contains("PRIVATE KEY"))
        #expect(lab.guest.file(Self.guestCert)?.contents == cert.contents && lab.guest.file(Self.guestKey)?.contents == key.contents)
        #expect(!lab.host.files.keys.contains { $0.hasSuffix(".phoenix-new") }, "no staged copy stays behind")
        #expect(Self.reloads(lab.guest) == 1, "\(lab.guest.commands)")
        #expect(service.stats[.signs] == 1 && service.stats[.reloads] == 1)
        let journal = try store.journal(run: try #require(outcome.run))
        #expect(journal.phases(Self.id) == [.intent, .applied, .verified])

        let writes = lab.host.writes
        let again = try await lab.run().service().sync(store: store, command: "sync certs")
        #expect(again.succeeded && !again.hasChanges)
        #expect(lab.ca.counts["sign"] == 1 && lab.host.writes == writes && Self.reloads(lab.guest) == 1, "a valid certificate is left alone")
    }

    @Test("a certificate near its end is renewed over its own key (no token, no new key); the stats count the renewal")
    func renew() async throws {
        let lab = try Self.lab()
        let now = Date()
        let old = try lab.ca.certificate(
            commonName: FakeEstate.certificate, names: [FakeEstate.certificate, "10.77.0.10"], from: now.addingTimeInterval(-23 * 3600),
            until: now.addingTimeInterval(3600))
        lab.host.place(Self.hostCert, FileFacts(contents: old.chainPEM, owner: "root", group: "www-data", mode: "0644"))
        lab.host.place(Self.hostKey, FileFacts(contents: old.keyPEM, owner: "root", group: "www-data", mode: "0640"))
        lab.guest.place(Self.guestCert, FileFacts(contents: old.chainPEM, owner: "root", group: "www-data", mode: "0644"))
        lab.guest.place(Self.guestKey, FileFacts(contents: old.keyPEM, owner: "root", group: "www-data", mode: "0640"))
        let service = lab.run().service()
        let outcome = try await service.sync(store: InMemoryStateStore(), command: "sync certs")
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")
        #expect(lab.ca.counts["renew"] == 1 && lab.ca.counts["sign"] == nil && lab.ca.counts["provisioners"] == nil)
        let cert = try #require(lab.host.file(Self.hostCert))
        #expect(cert.contents != old.chainPEM, "a new certificate")
        #expect(lab.host.file(Self.hostKey)?.contents == old.keyPEM, "the same key")
        #expect(lab.guest.file(Self.guestCert)?.contents == cert.contents)
        #expect(service.stats[.signs] == 1 && Self.reloads(lab.guest) == 1)
    }

    @Test("a CA that cannot be reached fails the certificate naming the call; nothing is installed, nothing reloaded")
    func unreachable() async throws {
        let lab = try Self.lab()
        lab.ca.setUnreachable(true)
        let outcome = try await lab.run().service().sync(store: InMemoryStateStore(), command: "sync certs")
        #expect(!outcome.succeeded)
        let error = try #require(FakeRun.results(outcome)[Self.id]?.failure)
        #expect(error.description.contains("GET /roots") && error.description.contains("connection refused"), "\(error)")
        #expect(lab.host.file(Self.hostCert) == nil && lab.guest.file(Self.guestCert) == nil)
        #expect(Self.reloads(lab.guest) == 0)
    }

    @Test("a crash once the files are in place, before the reload: the next run finishes it (reload, check) without a new certificate")
    func crashInstalled() async throws {
        let lab = try Self.lab()
        let store = InMemoryStateStore()
        await #expect(throws: SyncService.RunAbandoned.self) {
            _ = try await lab.run(failpoints: "\(Self.id):installed:crash").service().sync(store: store, command: "sync certs")
        }
        let installed = try #require(lab.host.file(Self.hostCert), "a crash leaves the files it installed")
        #expect(Self.reloads(lab.guest) == 0)
        #expect(try store.unfinishedResources(in: [1]) == [Self.id])
        store.abandonHolder()

        let resumed = try await lab.run().service().sync(store: store, command: "sync certs")
        #expect(resumed.succeeded && resumed.interrupted.map(\.id) == [1], "\(resumed.reports.flatMap(\.failures))")
        #expect(lab.ca.counts["sign"] == 1, "the installed certificate is kept")
        #expect(lab.host.file(Self.hostCert)?.contents == installed.contents)
        #expect(Self.reloads(lab.guest) == 1, "the reload the crash skipped")
        #expect(try store.unfinishedResources(in: [2]).isEmpty)
    }
}
