import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

@Suite("Signed commits: git verify-commit over the commits a new head brings (a real local repository)")
struct SystemGitSignatureTests {
    /// An ssh signing key and the allowed-signers file naming it.
    struct SSHSigner {
        let key: String
        var signing: [String] { ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(key)"] }

        init(_ directory: TemporaryDirectory, name: String, allowed: Bool) throws {
            key = directory.file(name)
            let made = try Command.run(try #require(TestPaths.program("ssh-keygen")), ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key])
            try #require(made.status == 0, "ssh-keygen: \(made.stderr)")
            if allowed {
                let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8)
                let line = "author@example.net \(publicKey.trimmingCharacters(in: .whitespacesAndNewlines))\n"
                let file = directory.file("allowed_signers")
                let existing = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                try directory.write("allowed_signers", existing + line)
            }
        }
    }

    @Test(
        "ssh: an unsigned or unknown signer's commit in the range is refused by name; all signed passes; a force push checks only what it brings",
        .needs(.git, .openSSH))
    func sshSignatures() async throws {
        let fixture = try GitFixture()
        let keys = try TemporaryDirectory("phoenix-agent-keys")
        let signer = try SSHSigner(keys, name: "signer", allowed: true)
        let stranger = try SSHSigner(keys, name: "stranger", allowed: false)
        let first = try fixture.commit("first", files: ["a": "1\n"], signing: signer.signing)
        let unsigned = try fixture.commit("unsigned", files: ["a": "2\n"])
        let third = try fixture.commit("third", files: ["a": "3\n"], signing: signer.signing)
        let work = try TemporaryDirectory("phoenix-agent-work")
        let log = InvocationLog()
        let git = try makeGit(fixture.served, work: work, signatures: .ssh(allowedSigners: keys.file("allowed_signers")), log: log)
        _ = try await git.checkout(third, branch: "main")

        let refused = await gitError { try await git.verifySignatures(from: first, to: third) }
        #expect(refused?.reason == .unsigned(commit: unsigned), "\(String(describing: refused))")
        #expect(refused?.message.contains(unsigned) == true, "\(String(describing: refused))")
        log.clear()
        try await git.verifySignatures(from: unsigned, to: third)
        #expect(log.subcommands == ["rev-list", "verify-commit"], "one rev-list, one verify-commit a commit")
        #expect(log.all.last?.arguments.contains("gpg.ssh.allowedSignersFile=\(keys.file("allowed_signers"))") == true)
        try await git.verifySignatures(from: nil, to: third)
        try await git.verifySignatures(from: third, to: third)
        let alone = await gitError { try await git.verifySignatures(from: nil, to: unsigned) }
        #expect(alone?.reason == .unsigned(commit: unsigned), "\(String(describing: alone))")

        // Signed, but by a key that is not allowed.
        let foreign = try fixture.commit("foreign", files: ["a": "4\n"], signing: stranger.signing)
        _ = try await git.checkout(foreign, branch: "main")
        let unknown = await gitError { try await git.verifySignatures(from: third, to: foreign) }
        #expect(unknown?.reason == .unsigned(commit: foreign), "\(String(describing: unknown))")

        // A force push: the branch restarts from `first`; only what the new head brings is checked.
        try fixture.run(["-C", fixture.work, "reset", "--quiet", "--hard", first])
        let rewritten = try fixture.commit("rewritten", files: ["b": "1\n"], signing: signer.signing)
        _ = try await git.checkout(rewritten, branch: "main")
        log.clear()
        try await git.verifySignatures(from: foreign, to: rewritten)
        #expect(log.subcommands == ["rev-list", "verify-commit"])
        let after = try fixture.commit("unsigned after the force push", files: ["b": "2\n"])
        _ = try await git.checkout(after, branch: "main")
        let refusedAfter = await gitError { try await git.verifySignatures(from: foreign, to: after) }
        #expect(refusedAfter?.reason == .unsigned(commit: after), "\(String(describing: refusedAfter))")

        // A commit not fetched yet cannot be vouched for.
        let absent = String(repeating: "cd", count: 20)
        let notHere = await gitError { try await git.verifySignatures(from: first, to: absent) }
        #expect(notHere?.reason == .notFound, "\(String(describing: notHere))")
    }

    @Test("gpg: the public keys are imported into a keyring of the adapter's own; signed passes, unsigned is refused by name", .needs(.git, .gpg))
    func gpgSignatures() async throws {
        let fixture = try GitFixture()
        // The signer's own keyring, in a short path (gpg-agent's socket lives in it).
        let home = try TemporaryDirectory("pgp")
        chmod(home.path, 0o700)
        defer { _ = try? Command.run("/usr/bin/env", ["GNUPGHOME=\(home.path)", try #require(TestPaths.program("gpgconf")), "--kill", "all"]) }
        let gpg = try #require(TestPaths.program("gpg"))
        func runGPG(_ arguments: [String]) throws -> CommandResult {
            let result = try Command.run("/usr/bin/env", ["GNUPGHOME=\(home.path)", gpg, "--batch"] + arguments)
            try #require(result.status == 0, "gpg \(arguments): \(result.stderr)")
            return result
        }
        _ = try runGPG(["--passphrase", "", "--quick-gen-key", "Test Author <author@example.net>", "ed25519", "sign", "never"])
        let fingerprint = try #require(
            try runGPG(["--with-colons", "--list-keys"]).stdout.split(separator: "\n").first { $0.hasPrefix("fpr:") }?.split(separator: ":").last.map(
                String.init))
        let keys = try TemporaryDirectory("phoenix-agent-keys")
        try keys.write("signers.asc", try runGPG(["--armor", "--export", fingerprint]).stdout)

        let signing = ["-c", "gpg.format=openpgp", "-c", "user.signingkey=\(fingerprint)"]
        let signed = try fixture.commit("signed", files: ["a": "1\n"], signing: signing, environment: ["GNUPGHOME": home.path])
        let unsigned = try fixture.commit("unsigned", files: ["a": "2\n"])
        let work = try TemporaryDirectory("phoenix-agent-work")
        let git = try makeGit(fixture.served, work: work, signatures: .gpg(publicKeys: keys.file("signers.asc")))
        _ = try await git.checkout(unsigned, branch: "main")

        try await git.verifySignatures(from: nil, to: signed)
        let marker = work.file("agent/gnupg/phoenix-imported")
        let imported = try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date
        try await git.verifySignatures(from: nil, to: signed)
        #expect(try FileManager.default.attributesOfItem(atPath: marker)[.modificationDate] as? Date == imported, "the keys are imported once")
        let refused = await gitError { try await git.verifySignatures(from: signed, to: unsigned) }
        #expect(refused?.reason == .unsigned(commit: unsigned), "\(String(describing: refused))")
    }
}
