import Foundation
import PhoenixCLI
import PhoenixServices
import PhoenixTesting
import Testing

@testable import PhoenixCore

/// Golden files of every renderer, from the example estate. Re-record with `PHOENIX_RECORD_GOLDEN=1 swift test`.
@Suite("Rendered artefacts match their golden files")
struct GoldenTests {
    static let goldenRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/example").path
    static var recording: Bool { ProcessInfo.processInfo.environment["PHOENIX_RECORD_GOLDEN"] == "1" }

    static func exampleEstate() throws -> Estate {
        let sources = ConfigReader(configDirectory: "\(TestPaths.exampleEstate)/etc", stacksDirectory: "\(TestPaths.exampleEstate)/stacks").read()
        return try #require(EstateLoader().load(sources).estate)
    }

    @Test("each stage renders exactly its golden files", arguments: RenderStage.allCases)
    func golden(stage: RenderStage) throws {
        let output = EstateRenderer(estate: try Self.exampleEstate(), defaultNodeName: "unused").render([stage])
        #expect(!output.files.isEmpty)
        for file in output.files {
            let path = "\(Self.goldenRoot)/\(file.renderPath)"
            if Self.recording {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try file.contents.write(toFile: path, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOfFile: path, encoding: .utf8)
            #expect(file.contents == expected, "\(file.renderPath) differs from its golden file")
        }
    }

    @Test("no golden file is left without a renderer")
    func noOrphans() throws {
        let output = EstateRenderer(estate: try Self.exampleEstate(), defaultNodeName: "unused").render(RenderStage.allCases)
        let rendered = Set(output.files.map(\.renderPath))
        let enumerator = FileManager.default.enumerator(atPath: Self.goldenRoot)
        var golden = Set<String>()
        while let next = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(Self.goldenRoot)/\(next)", isDirectory: &isDirectory), !isDirectory.boolValue { golden.insert(next) }
        }
        #expect(golden == rendered)
    }

    @Test("rendering is byte-identical run after run")
    func deterministic() throws {
        let estate = try Self.exampleEstate()
        let first = EstateRenderer(estate: estate, defaultNodeName: "n").render(RenderStage.allCases).files
        let again = try Self.exampleEstate()
        let second = EstateRenderer(estate: again, defaultNodeName: "n").render(RenderStage.allCases).files
        #expect(first == second)
    }

    @Test("firewall rules use the syntax pve-firewall accepts: -p, -i, never -iface or -proto")
    func firewallSyntax() throws {
        let output = EstateRenderer(estate: try Self.exampleEstate(), defaultNodeName: "n").render([.firewall])
        let cluster = try #require(output.files.first { $0.path == "/etc/pve/firewall/cluster.fw" })
        #expect(cluster.contents.contains("IN ACCEPT -i vmbr0 -p tcp -dport 80,443 # Web to the gateway"))
        #expect(output.files.count > 3, "\(output.files.map(\.path))")
        #expect(output.files.allSatisfy { !$0.contents.contains("-iface") && !$0.contents.contains("-proto") })
        #expect(output.files.contains { $0.path == "/etc/pve/nodes/pve1/host.fw" })
        let disabled = try #require(output.files.first { $0.path == "/etc/pve/firewall/110.fw" })
        #expect(disabled.contents.contains("enable: 0"))
    }
}

@Suite("Secrets never leak")
struct SecretTests {
    static let password = "example-Secret-do-not-use-9f3b"

    @Test("the Portainer admin password appears in no rendered file, diagnostic or graph")
    func password() throws {
        let sources = ConfigReader(configDirectory: "\(TestPaths.exampleEstate)/etc", stacksDirectory: "\(TestPaths.exampleEstate)/stacks").read()
        let result = EstateLoader().load(sources)
        let estate = try #require(result.estate)
        #expect(estate.portainerAdminPassword?.revealed == Self.password, "the fixture really carries the secret")
        let output = EstateRenderer(estate: estate, defaultNodeName: "n").render(RenderStage.allCases)
        for file in output.files { #expect(!file.contents.contains(Self.password), "\(file.renderPath)") }
        #expect(!result.report.summary.contains(Self.password))
        #expect(!"\(estate)".contains(Self.password), "dumping the estate redacts the secret")
        for verb in GraphVerb.allCases {
            #expect(!"\(GuestGraph(estate: estate, verb: verb))".contains(Self.password))
        }
    }

    @Test("a malformed secret is reported by type, never by value")
    func malformedSecret() {
        let hypervisor = #"{"domain_name": "lab.test", "portainer_api": {"admin_password": ["hunter2-in-a-list"]}}"#
        let report = TestEstate.load(hypervisor: hypervisor).report
        #expect(report.hasError("hv.json", "/portainer_api/admin_password", containing: "expected a string"))
        #expect(!report.summary.contains("hunter2"))
    }
}
