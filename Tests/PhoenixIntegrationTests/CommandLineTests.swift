import Foundation
import PhoenixTesting
import Testing

@testable import PhoenixCLI

/// The built `phoenix` binary, driven as a user would: exit codes, stdout, and the files it leaves.
@Suite("The phoenix command line")
struct CommandLineTests {
    static let example = "\(TestPaths.exampleEstate)/etc"

    func phoenix(_ arguments: [String]) throws -> CommandResult {
        let binary = "\(TestPaths.packageRoot)/.build/debug/phoenix"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        return try Command.run(binary, arguments)
    }

    /// A copy of the example estate with `change` applied to the raw text of one file.
    func brokenEstate(_ file: String, _ change: (String) -> String) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("phoenix-cli")
        try FileManager.default.copyItem(atPath: Self.example, toPath: directory.file("etc"))
        try FileManager.default.copyItem(atPath: "\(TestPaths.exampleEstate)/stacks", toPath: directory.file("stacks"))
        let path = directory.file("etc/\(file)")
        try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
        return directory
    }

    func listing(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
    }

    @Test("--color: always paints the plan's symbols, never and auto off a terminal leave them plain; NO_COLOR turns auto off")
    func color() throws {
        let scratch = try TemporaryDirectory("phoenix-color")
        let target = [
            "--config-dir", Self.example, "--host-root", scratch.file("host"), "--guest-root", scratch.file("guests"), "--state", scratch.file("state.sqlite"),
        ]
        let always = try phoenix(["plan", "dns", "--color", "always"] + target)
        #expect(always.status == 0, "\(always.stderr)")
        #expect(always.stdout.contains("\u{1B}[32m+\u{1B}[0m dns:records"), "a file to create is a green +: \(always.stdout.debugDescription)")
        let never = try phoenix(["plan", "dns", "--color", "never"] + target)
        #expect(never.status == 0, "\(never.stderr)")
        #expect(!never.stdout.contains("\u{1B}[") && never.stdout.contains("  + dns:records"))
        // Our stdout is a pipe, not a terminal: auto stays plain.
        let auto = try phoenix(["plan", "dns"] + target)
        #expect(auto.status == 0 && auto.stdout.contains("  + dns:records"), "\(auto.stdout)\(auto.stderr)")
        #expect(!auto.stdout.contains("\u{1B}["))

        // On a terminal (a pseudo-terminal this test opens): auto paints, unless NO_COLOR is set or TERM is dumb.
        let terminal = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(terminal >= 0 && isatty(terminal) == 1, "no pseudo-terminal here")
        defer { close(terminal) }
        let plainFile = open("/dev/null", O_RDONLY)
        defer { close(plainFile) }
        #expect(ColorMode.auto.enabled(forDescriptor: terminal, environment: ["TERM": "xterm"]))
        #expect(!ColorMode.auto.enabled(forDescriptor: terminal, environment: ["TERM": "xterm", "NO_COLOR": "1"]))
        #expect(!ColorMode.auto.enabled(forDescriptor: terminal, environment: ["TERM": "dumb"]))
        #expect(ColorMode.always.enabled(forDescriptor: terminal, environment: ["NO_COLOR": "1"]), "asked for by name, colour wins")
        #expect(!ColorMode.auto.enabled(forDescriptor: plainFile, environment: ["TERM": "xterm"]))
    }

    @Test("graph --resources prints the resource graph from the configuration: the gateway needs its ingress's Traefik, moving the ingress moves the edge")
    func resourceGraph() throws {
        func graph(_ config: String) throws -> [String: [String: Any]] {
            let result = try phoenix(["graph", "--resources", "--format", "json", "--config-dir", config, "--node", "pve1"])
            #expect(result.status == 0, "\(result.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            #expect(document["version"] as? Int == 1)
            let resources = try #require(document["resources"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: resources.map { ($0["id"] as! String, $0) })
        }
        let nodes = try graph(Self.example)
        #expect(
            nodes["gateway:site"]?["depends_on"] as? [String] == [
                "cert:gateway.lab.example.net/files", "guest:101", "services:traefik-dynamic", "services:traefik-static",
            ],
            "the site names the gateway certificate's files (nginx -t loads them): \(nodes["gateway:site"] ?? [:])")
        #expect(nodes["services:traefik-static"]?["target"] as? String == "guest/102")
        #expect(nodes["guest:101"]?["kind"] as? String == "guest-settings" && nodes["guest:101"]?["stage"] as? String == "guests")
        #expect(nodes["dns:records"]?["depends_on"] as? [String] == [])
        #expect(nodes["files:whoami/docker-compose.yml"] != nil, "the stack files are resources too")

        let estate = try PatchedEstate.exampleCopy("phoenix-graph-ingress")
        try PatchedEstate.edit(estate.file("etc/phoenix_hypervisor_config.json")) { root in
            var phoenix = root["phoenix"] as? [String: Any] ?? [:]
            phoenix["ingress_guest"] = 110
            root["phoenix"] = phoenix
        }
        let moved = try graph(estate.file("etc"))
        #expect(moved["services:traefik-static"]?["target"] as? String == "guest/110")
        #expect(moved["services:traefik-dynamic"]?["depends_on"] as? [String] == ["guest:110"], "\(moved["services:traefik-dynamic"] ?? [:])")
    }

    @Test("validate exits 0 on the example estate and never prints the admin password")
    func validateExample() throws {
        let result = try phoenix(["validate", "--config-dir", Self.example, "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["version"] as? Int == 1)
        #expect(document["valid"] as? Bool == true)
        #expect(!result.stdout.contains("example-Secret-do-not-use-9f3b"))
    }

    @Test("validate exits 65 with file and pointer, and escapes control characters from the file")
    func validateBroken() throws {
        let estate = try brokenEstate("phoenix_lxc_configs.json") {
            $0.replacingOccurrences(of: #""name": "grafana""#, with: #""name": "graf ana", "col\u001b[31mour": 1"#)
        }
        let json = try phoenix(["validate", "--config-dir", estate.file("etc"), "--format", "json"])
        #expect(json.status == 65)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let errors = try #require(document["errors"] as? [[String: Any]])
        #expect(
            errors.contains {
                ($0["file"] as? String)?.hasSuffix("phoenix_lxc_configs.json") == true && $0["pointer"] as? String == "/lxc_configs/110/name"
                    && $0.keys.sorted() == ["file", "hint", "message", "pointer"]
            }, "\(errors)")
        let text = try phoenix(["validate", "--config-dir", estate.file("etc")])
        #expect(text.status == 65)
        #expect(text.stdout.contains("col\\u{1b}[31mour"), "\(text.stdout)")
        #expect(!text.stdout.contains("\u{1b}"))
    }

    @Test("the guest files are found by the basenames core_paths gives them")
    func corePathsNames() throws {
        let estate = try brokenEstate("phoenix_hypervisor_config.json") {
            $0.replacingOccurrences(
                of: #""domain_name""#,
                with:
                    #""core_paths": {"lxc_config_file": "/usr/local/phoenix_hypervisor/etc/site_lxc.json", "vm_config_file": "/opt/x/site_vm.json"}, "domain_name""#
            )
        }
        let before = try phoenix(["graph", "--config-dir", estate.file("etc"), "--format", "json", "--verb", "create"])
        #expect(before.status == 65, "the files core_paths names are not there yet: \(before.stdout)\(before.stderr)")
        #expect(!before.stdout.contains(#""110""#), "the default names are not read when core_paths names others: \(before.stdout)")
        try FileManager.default.moveItem(atPath: estate.file("etc/phoenix_lxc_configs.json"), toPath: estate.file("etc/site_lxc.json"))
        try FileManager.default.moveItem(atPath: estate.file("etc/phoenix_vm_configs.json"), toPath: estate.file("etc/site_vm.json"))
        let after = try phoenix(["graph", "--config-dir", estate.file("etc"), "--format", "json", "--verb", "create"])
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        let order = try #require(document["order"] as? [String])
        #expect(order.contains("110") && order.contains("1002"), "LXC and VM guests both loaded: \(order)")
    }

    @Test("a missing configuration directory is one clear error, exit 65")
    func missingDirectory() throws {
        let result = try phoenix(["validate", "--config-dir", "/nonexistent/phoenix/etc"])
        #expect(result.status == 65)
        #expect(result.stdout.contains("phoenix_hypervisor_config.json: cannot read the file: no such file"))
        #expect(!result.stdout.contains("invalid JSON"))
    }

    @Test("render writes nothing when the configuration is invalid")
    func renderInvalid() throws {
        let estate = try brokenEstate("phoenix_vm_configs.json") { $0.replacingOccurrences(of: #""vmid": 1002"#, with: #""vmid": 101"#) }
        let out = estate.file("out")
        let result = try phoenix(["render", "all", "--config-dir", estate.file("etc"), "--out", out])
        #expect(result.status == 65)
        #expect(result.stderr.contains("used by an LXC and a VM"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("a render that cannot write leaves no partial set and no temporary files")
    func renderBlocked() throws {
        let work = try TemporaryDirectory("phoenix-cli-out")
        try work.write("out/host", "a file where a directory must go")
        let result = try phoenix(["render", "all", "--config-dir", Self.example, "--out", work.file("out")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot write"))
        #expect(listing(work.file("out")) == ["host"], "certs/ and guests/ were staged first and must be gone")
    }

    @Test("render is byte-identical from one run of the binary to the next")
    func renderTwice() throws {
        let work = try TemporaryDirectory("phoenix-cli-twice")
        for name in ["a", "b"] {
            let result = try phoenix(["render", "all", "--config-dir", Self.example, "--out", work.file(name)])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let files = listing(work.file("a"))
        #expect(files.count > 15)
        #expect(files == listing(work.file("b")))
        for file in files {
            #expect(FileManager.default.contents(atPath: work.file("a/\(file)")) == FileManager.default.contents(atPath: work.file("b/\(file)")), "\(file)")
        }
    }

    @Test("usage errors exit 64", arguments: [["render", "bogus", "--out", "/tmp/x"], ["graph", "--verb", "reboot"], ["frobnicate"]])
    func usage(arguments: [String]) throws {
        #expect(try phoenix(arguments + ["--config-dir", Self.example]).status == 64)
    }

    @Test("graph --format json gives the versioned order and edges")
    func graphJSON() throws {
        let result = try phoenix(["graph", "--config-dir", Self.example, "--verb", "stop", "--format", "json"])
        #expect(result.status == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["version"] as? Int == 1)
        #expect(document["verb"] as? String == "stop")
        #expect(document["order"] as? [String] == ["1002", "1001", "110", "101", "102", "103"])
        let edges = try #require(document["edges"] as? [[String: Any]])
        #expect(edges.contains { $0["from"] as? String == "110" && $0["to"] as? String == "120" && $0["active"] as? Bool == false })
    }
}
