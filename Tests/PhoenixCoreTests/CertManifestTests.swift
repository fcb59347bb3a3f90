import Foundation
import PhoenixServices
import Testing

@testable import PhoenixCore

@Suite("The certificate manifest: SANs of both IP families, an entry's own errors left to that entry")
struct CertManifestTests {
    static func entry(_ name: String, sans: [String]) -> String {
        let list = sans.map { "\"\($0)\"" }.joined(separator: ", ")
        return #"{"common_name": "\#(name)", "sans": [\#(list)], "cert_path": "/certs/\#(name).crt", "key_path": "/certs/\#(name).key"}"#
    }

    @Test("IPv6 SANs are accepted beside IPv4 and DNS names, each address once however it is written")
    func ipv6() throws {
        let result = TestEstate.load(
            manifest: "[" + Self.entry("ip.lab.test", sans: ["ip.lab.test", "::1", "0:0::1", "FD00::5", "10.0.0.5", "::ffff:10.0.0.5"]) + "]")
        #expect(result.report.isValid, "\(result.report.summary)")
        let request = try #require(result.estate?.certificates.first)
        #expect(request.ipAddresses.map(\.description) == ["::1", "fd00::5", "10.0.0.5"])
        #expect(request.dnsNames.map(\.text) == ["ip.lab.test"])
        #expect(result.estate?.refusedCertificates.isEmpty == true)
    }

    @Test("one bad SAN is an error at its own pointer, tied to its certificate; the other entries load and the estate stays usable")
    func oneBadEntry() throws {
        let manifest =
            "["
            + [
                Self.entry("a.lab.test", sans: ["a.lab.test", "::1"]), Self.entry("b.lab.test", sans: ["b.lab.test", "fd00::zz"]),
                Self.entry("c.lab.test", sans: ["10.0.0.7"]),
            ].joined(separator: ", ") + "]"
        let result = TestEstate.load(manifest: manifest)
        let report = result.report
        #expect(!report.isValid, "validate still says the configuration has an error")
        #expect(report.isUsable, "\(report.summary)")
        #expect(report.errors.count == 1, "\(report.summary)")
        let error = try #require(report.errors.first)
        #expect(error.file == "certs.json" && error.pointer.description == "/1/sans/1", "\(error)")
        #expect(error.message.contains(#""fd00::zz" is neither a DNS name nor an IP address"#))
        #expect(error.resource == "cert:b.lab.test")
        let estate = try #require(result.estate)
        #expect(estate.certificates.map(\.commonName) == ["a.lab.test", "c.lab.test"])
        let refused = try #require(estate.refusedCertificates.first)
        #expect(estate.refusedCertificates.count == 1)
        #expect(refused.resourceID == "cert:b.lab.test" && refused.location.pointer.description == "/1")
        #expect(refused.reason.contains("certs.json#/1/sans/1: \"fd00::zz\" is neither"), "\(refused.reason)")
        // The resource is still in the graph, so what needs it hears that it failed.
        let nodes = CertKind().nodes(in: ResourceGraphContext(estate: estate, stages: [.certs]))
        #expect(
            Set(nodes.map(\.id)) == [
                "cert:a.lab.test", "cert:a.lab.test/files", "cert:b.lab.test", "cert:b.lab.test/files", "cert:c.lab.test", "cert:c.lab.test/files",
            ])
    }

    @Test("an entry without a usable common name has no resource to fail: its errors concern the whole configuration")
    func noName() {
        let manifest = #"[{"common_name": "not a name", "cert_path": "/c", "key_path": "/k"}, "# + Self.entry("a.lab.test", sans: []) + "]"
        let report = TestEstate.load(manifest: manifest).report
        #expect(!report.isUsable, "\(report.summary)")
        #expect(report.hasError("certs.json", "/0/common_name", containing: "is not a valid common name"))
        #expect(report.errors.contains { $0.resource == nil })
    }

    @Test("a refused entry and a valid one of the same common name are listed twice: the whole configuration's error")
    func twiceWithRefused() {
        let manifest = "[" + Self.entry("a.lab.test", sans: ["a.lab.test"]) + ", " + Self.entry("a.lab.test", sans: ["bad..name"]) + "]"
        let report = TestEstate.load(manifest: manifest).report
        #expect(!report.isUsable)
        #expect(report.hasError("certs.json", "/1/common_name", containing: "is listed twice"), "\(report.summary)")
    }
}
