import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixTesting
import Testing

/// Runs `body` on a thread of its own and waits: a VM's machine blocks on API calls, which need the
/// concurrency pool free (the commands run the engine the same way).
@Suite("Commands in VMs through the guest agent (fakepve's API; a real LXC container plays the VM's system)", .serialized, .needs(.fakepve))
struct AgentMachineTests {
    @Test(
        "files written, read, renamed and removed in the VM through agent/exec and agent/file-write; a large file in parts; a hung command fails",
        .needs(.lxc))
    func machineContract() async throws {
        let container = try StandInContainer.make(id: 1001)
        let vm: [String: Any] = ["vmid": 1001, "name": "swarm-manager", "status": "running", "agent_lxc": ["path": container.lxcPath, "name": "ct1001"]]
        let pve = try FakeProxmox.make(containers: [], vms: [vm])
        let directory = VMDirectory { try pve.client() }
        let guest = AgentGuestMachine(id: 1001, directory: directory)
        let rootfs = container.rootfs

        let path = "/etc/phoenix/it's a \"test\" $(touch /tmp/owned).conf"
        let contents = "tls_cert_file: /etc/docker/tls/cert.pem\n# quotes ' \" and $HOME stay as they are\n"
        try await guest.write(path, contents, mode: "0640")
        #expect(try String(contentsOfFile: rootfs + path, encoding: .utf8) == contents)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: rootfs + path)[.posixPermissions] as? Int)
        #expect(mode == 0o640, "mode \(String(mode, radix: 8))")
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/tmp/owned"), "nothing in a path is run by a shell")
        #expect(!FileManager.default.fileExists(atPath: rootfs + path + ".phoenix-new"), "the staging file was renamed over the target")

        #expect(try await guest.read(path) == contents)
        #expect(try await guest.read("/etc/phoenix/absent.conf") == nil)
        let all = try await guest.read(all: [path, "/etc/phoenix/absent.conf"])
        #expect(all[path] == .some(contents) && all["/etc/phoenix/absent.conf"] == .some(nil))

        // Larger than one agent/file-write call carries: sent in parts, joined in the VM.
        let large = String((0..<(ProxmoxClient.agentChunkSize * 2 + 500)).map { index in Character(UnicodeScalar(UInt8(97 + index % 26))) })
        try await guest.write("/srv/stacks/large.yml", large, mode: "0644")
        #expect(try String(contentsOfFile: rootfs + "/srv/stacks/large.yml", encoding: .utf8) == large)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: rootfs + "/srv/stacks")
        #expect(leftovers == ["large.yml"], "the parts are removed: \(leftovers)")
        // Every file the agent filled was already there, readable by root alone (the launcher
        // records each file's mode just before the write).
        let modes = (try String(contentsOfFile: pve.directory.file("agent-file-modes.log"), encoding: .utf8)).split(separator: "\n")
        #expect(modes.count == 4, "the first file, then the large one's three parts (joined in the VM): \(modes)")
        #expect(modes.allSatisfy { $0.hasPrefix("600 ") }, "\(modes)")

        try await guest.rename(path, to: "/etc/phoenix/renamed.conf")
        #expect(try await guest.read("/etc/phoenix/renamed.conf") == contents)
        try await guest.remove("/etc/phoenix/renamed.conf")
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/etc/phoenix/renamed.conf"))

        let hostname = try await guest.run(["hostname"], timeout: 10)
        #expect(hostname.status == 0 && hostname.stdout == "ct1001\n", "\(hostname)")
        let failing = try await guest.run(["sh", "-c", "echo broken >&2; exit 3"], timeout: 10)
        #expect(failing.status == 3 && failing.stderr.contains("broken"))
        do throws(MachineError) {
            _ = try await guest.run(["sleep", "30"], timeout: 1)
            Issue.record("a command still running at the timeout was taken for a success")
        } catch {
            #expect(error.description.contains("sleep in VM 1001 still running after 1 s"), "\(error.description)")
        }
        await directory.shutdown()
    }

    @Test("phoenix plan reads a gateway that runs in a VM through its guest agent (no --guest-root): a hand edit is found", .needs(.lxc))
    func planThroughAgent() async throws {
        let container = try StandInContainer.make(id: 1001)
        let vm: [String: Any] = ["vmid": 1001, "name": "swarm-manager", "status": "running", "agent_lxc": ["path": container.lxcPath, "name": "ct1001"]]
        let pve = try FakeProxmox.make(containers: [], vms: [vm])
        let estate = try PatchedEstate.exampleCopy("phoenix-agent-plan")
        try PatchedEstate.edit(estate.file("etc/phoenix_hypervisor_config.json")) { root in
            var phoenix = root["phoenix"] as? [String: Any] ?? [:]
            phoenix["gateway_guest"] = 1001
            root["phoenix"] = phoenix
        }
        let site = "/etc/nginx/conf.d/phoenix-gateway.conf"
        try FileManager.default.createDirectory(atPath: container.rootfs + "/etc/nginx/conf.d", withIntermediateDirectories: true)
        try "# edited by hand in the VM\n".write(toFile: container.rootfs + site, atomically: true, encoding: .utf8)

        let result = try pve.phoenix(
            ["plan", "gateway", "--format", "json", "--host-root", estate.file("host"), "--state", estate.file("state.sqlite")], config: estate.file("etc"))
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let changes = (document["changes"] as? [[String: Any]]) ?? []
        let gatewaySite = try #require(changes.first { ($0["path"] as? String) == site }, "\(result.stdout)")
        #expect(gatewaySite["action"] as? String == "update", "the hand-edited file in the VM differs: \(gatewaySite)")
        #expect(gatewaySite["unit"] as? String == "nginx@1001")
        // fakepve writes its request log every 0.1 s.
        try waitFor("fakepve to log the read through agent/exec", detail: { "\(pve.requests())" }) { pve.requests().contains { $0.hasPrefix("exec sh -c") } }
    }

    @Test("a VM that is not on the cluster, or no API at all, is a clear error naming the VM")
    func unreachable() async throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let directory = VMDirectory { try pve.client() }
        do throws(MachineError) {
            _ = try await AgentGuestMachine(id: 1001, directory: directory).read("/etc/hostname")
            Issue.record("a missing VM was read")
        } catch {
            #expect(error.description.contains("VM 1001"), "\(error.description)")
            #expect(error.description.contains("no VM 1001 on the cluster (phoenix create 1001 first)"), "\(error.description)")
        }
        await directory.shutdown()

        struct NoAPI: Error, CustomStringConvertible { let description = "name the Proxmox API with --api https://host:8006 or $PHOENIX_API" }
        let none = VMDirectory { throw NoAPI() }
        do throws(MachineError) {
            _ = try await AgentGuestMachine(id: 1001, directory: none).run(["true"], timeout: 5)
            Issue.record("a VM was reached without an API")
        } catch {
            #expect(error.description.contains("name the Proxmox API with --api"), "\(error.description)")
        }
    }
}
