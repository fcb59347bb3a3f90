import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixTesting
import Testing

/// fakepve stands in for the Proxmox API (see FakeProxmox): guests are created and converged
/// through it and their configuration read back from it.
@Suite("Guests as the original's files declare them (fakepve)", .serialized, .needs(.fakepve))
struct GuestSettingsTests {
    /// The example estate with what the original's files use: a VM that leaves cores and memory to
    /// vm_defaults, a container whose MAC comes from mac_address, one with a second interface.
    static func estate() throws -> TemporaryDirectory {
        let estate = try PatchedEstate.exampleCopy("phoenix-guest-settings")
        try PatchedEstate.edit(estate.file("etc/phoenix_vm_configs.json")) { root in
            var vms = root["vms"] as! [[String: Any]]
            let index = vms.firstIndex { $0["vmid"] as? Int == 1002 }!
            vms[index]["cores"] = nil
            vms[index]["memory_mb"] = nil
            root["vms"] = vms
        }
        try PatchedEstate.editContainer(103, in: estate.file("etc")) { entry in entry["mac_address"] = "52:54:00:aa:bb:ca" }
        return estate
    }

    @Test("vm_defaults, mac_address and secondary_network_config reach Proxmox at create, read back as converge leaves them")
    func createdAsDeclared() async throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let estate = try Self.estate()
        let config = estate.file("etc")
        let created = try pve.phoenix(["create", "--stats"], config: config)
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
        #expect(created.stderr.contains(" API calls"), "create --stats: \(created.stderr)")

        let read = try await pve.withClient { client -> [Int: JSONValue] in
            var configs: [Int: JSONValue] = [:]
            for guest in try await client.guests() { configs[guest.vmid] = try await client.get("\(guest.path)/config") }
            return configs
        }
        func text(_ id: Int, _ key: String) -> String {
            switch read[id]?[key] {
            case let .string(value)?: return value
            case let .number(value)?: return JSONWriter.number(value)
            default: return "(unset)"
            }
        }
        #expect(text(1002, "cores") == "2" && text(1002, "memory") == "2048", "vm_defaults fill what the VM leaves out: \(read[1002] ?? .null)")
        #expect(text(1001, "cores") == "4", "a VM's own value wins over vm_defaults")
        #expect(text(1002, "net0").contains("bridge=vmbr0"), "vm_defaults.network_bridge: \(text(1002, "net0"))")
        #expect(text(9000, "scsi0").hasPrefix("local-lvm:"), "an empty VM gets its disk on vm_defaults.storage_pool: \(text(9000, "scsi0"))")
        #expect(text(103, "net0").contains("hwaddr=52:54:00:AA:BB:CA"), "mac_address is the first interface's hwaddr: \(text(103, "net0"))")
        #expect(
            text(101, "net1").contains("name=eth1") && text(101, "net1").contains("bridge=vmbr100") && text(101, "net1").contains("ip=10.77.0.10/24"),
            "secondary_network_config is net1: \(text(101, "net1"))")

        let converged = try pve.phoenix(["converge", "--refresh", "--format", "json"], config: config)
        #expect(converged.status == 0, "\(converged.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(converged.stdout.utf8)) as? [String: Any], "\(converged.stdout)")
        #expect(document["read"] as? Int == 8, "every guest read back: \(document)")
        #expect((document["guests"] as? [Any])?.isEmpty == true, "created as declared, nothing left to converge: \(converged.stdout)")
    }

    @Test("every API command takes --stats; letsgo counts all its steps")
    func statsEverywhere() throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let estate = try Self.estate()
        let config = estate.file("etc")
        for arguments in [["create", "103"], ["start", "103"], ["restart", "103"], ["stop", "103"], ["status"], ["delete", "103"]] {
            let result = try pve.phoenix(arguments + ["--stats"], config: config)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            let line = result.stderr.split(separator: "\n").first { $0.hasPrefix("stats: ") } ?? ""
            let calls = line.split(separator: ",").last.flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
            #expect(calls > 0, "\(arguments) counts its API calls: \(result.stderr)")
        }
        let letsgo = try pve.phoenix(["letsgo", "--no-sync", "--stats"], config: config)
        #expect(letsgo.status == 0, "\(letsgo.stderr)")
        let total = letsgo.stderr.split(separator: "\n").first { $0.hasPrefix("stats: letsgo: ") }
        let each = letsgo.stderr.split(separator: "\n").filter { $0.hasPrefix("stats: ") && !$0.hasPrefix("stats: letsgo") }
        #expect(total != nil && each.count == 3, "one line per step and the total: \(letsgo.stderr)")
        func calls(_ line: Substring) -> Int { Int(line.split(separator: ",").last?.split(separator: " ").first ?? "") ?? -1 }
        #expect(total.map(calls) == each.map(calls).reduce(0, +), "the total is the sum of the steps: \(letsgo.stderr)")
    }

    @Test("a container with neither clone_from_ctid nor template: validate says create cannot make it, create refuses without sending anything")
    func nothingToCreateFrom() throws {
        let pve = try FakeProxmox.make(containers: [], vms: [])
        let estate = try Self.estate()
        let config = estate.file("etc")
        try PatchedEstate.editContainer(110, in: config) { entry in entry["clone_from_ctid"] = nil }
        let validate = try pve.phoenix(["validate", "--format", "json"], config: config)
        #expect(validate.status == 0, "a warning, not an error: converge still manages it once it exists")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any], "\(validate.stdout)")
        let warnings = report["warnings"] as? [[String: Any]] ?? []
        #expect(
            warnings.contains {
                $0["pointer"] as? String == "/lxc_configs/110" && ($0["message"] as? String)?.contains("phoenix create cannot make it") == true
            },
            "\(warnings)")
        let created = try pve.phoenix(["create", "110"], config: config)
        #expect(created.status == 1)
        #expect(created.stderr.contains("container 110 names neither clone_from_ctid nor template"), "\(created.stderr)")
        #expect(!created.stderr.contains("Proxmox refused"), "phoenix never sent the request: \(created.stderr)")
    }
}
