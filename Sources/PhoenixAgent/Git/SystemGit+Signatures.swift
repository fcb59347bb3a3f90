import Crypto
import Foundation
import PhoenixCore

extension SystemGit {
    /// Checks that the commits after `from` up to `to` are signed by an allowed signer, oldest
    /// first: `from..to`, which after a force push (`from` not an ancestor of `to`) is still what
    /// `to` brings that `from` did not have. Only `to` when `from` is nil, or when `from` is no
    /// longer in the repository (a work directory made anew): there is nothing to count from.
    /// `to` must have been checked out (fetched) first.
    public func verifySignatures(from: String?, to: String) async throws(GitError) {
        try Self.checkCommit(to, operation: "verify-commit")
        if let from { try Self.checkCommit(from, operation: "verify-commit") }
        guard let check = options.signatures else {
            throw GitError(operation: "verify-commit", reason: .failed, message: "no allowed signers were given (--verify-commits)")
        }
        let commits = try await commitsToVerify(from: from, to: to)
        let configuration: [String]
        var environment: [String: String] = [:]
        switch check {
        case .ssh(let allowedSigners):
            configuration = ["-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile=\(allowedSigners)"]
        case .gpg(let publicKeys):
            environment["GNUPGHOME"] = try await keyring(publicKeys)
            configuration = ["-c", "gpg.format=openpgp"]
        }
        for commit in commits {
            let result = try await runner.runInRepository(configuration + ["verify-commit", commit], environment: environment, operation: "verify-commit")
            guard result.status != 0 else { continue }
            if result.status == 124 { throw runner.failure("verify-commit", result, network: false) }
            let said = runner.redact(GitRunner.excerpt(result.stderr))
            let message = said.isEmpty ? "commit \(commit) is not signed" : "commit \(commit) is not signed by an allowed signer: \(said)"
            throw GitError(operation: "verify-commit", reason: .unsigned(commit: commit), message: message)
        }
    }

    /// `from..to`, oldest first.
    func commitsToVerify(from: String?, to: String) async throws(GitError) -> [String] {
        let range = from.map { ["\($0)..\(to)"] } ?? ["--max-count=1", to]
        var result = try await runner.runInRepository(["rev-list", "--reverse"] + range + ["--"], operation: "rev-list")
        if result.status != 0, result.status != 124, from != nil {
            guard try await isCommit(to) else {
                throw GitError(operation: "rev-list", reason: .notFound, message: "commit \(to) is not in the repository; check it out first")
            }
            result = try await runner.runInRepository(["rev-list", "--max-count=1", to, "--"], operation: "rev-list")
        }
        guard result.status == 0 else {
            if result.status == 124 { throw runner.failure("rev-list", result, network: false) }
            throw GitError(operation: "rev-list", reason: .notFound, message: "commit \(to) is not in the repository; check it out first")
        }
        return result.stdout.split(separator: "\n").map(String.init).filter { Self.isObjectName($0) }
    }

    func isCommit(_ commit: String) async throws(GitError) -> Bool {
        try await runner.runInRepository(["cat-file", "-e", "\(commit)^{commit}"], operation: "cat-file").status == 0
    }

    /// `<work>/gnupg`, holding exactly the keys of `publicKeys`: imported once, and again (into a
    /// new keyring) when the file changes.
    func keyring(_ publicKeys: String) async throws(GitError) -> String {
        let home = "\(workDirectory)/gnupg"
        guard let keys = FileManager.default.contents(atPath: publicKeys) else {
            throw GitError(operation: "verify-commit", reason: .failed, message: "cannot read the public keys file \(publicKeys)")
        }
        let digest = SHA256.hash(data: keys).map { String(format: "%02x", $0) }.joined()
        let marker = "\(home)/phoenix-imported"
        if (try? String(contentsOfFile: marker, encoding: .utf8)) == digest { return home }
        try? FileManager.default.removeItem(atPath: home)
        do {
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw GitError(operation: "verify-commit", reason: .failed, message: "cannot create the keyring \(home): \(error.localizedDescription)")
        }
        guard let gpg = GitHelperMode.program("gpg", path: ProcessInfo.processInfo.environment["PATH"]) else {
            throw GitError(operation: "verify-commit", reason: .failed, message: "gpg is not on PATH")
        }
        let result = try await runner.run(
            ["--batch", "--quiet", "--no-autostart", "--import", publicKeys], environment: ["GNUPGHOME": home], program: gpg, operation: "gpg --import")
        guard result.status == 0 else {
            throw GitError(operation: "gpg --import", reason: .failed, message: GitRunner.excerpt(result.stderr))
        }
        do {
            try digest.write(toFile: marker, atomically: true, encoding: .utf8)
        } catch {
            throw GitError(operation: "gpg --import", reason: .failed, message: "cannot write \(marker): \(error.localizedDescription)")
        }
        return home
    }
}
