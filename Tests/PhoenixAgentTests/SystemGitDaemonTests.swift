import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

@Suite("The system git against git daemon (git://, anonymous, on loopback)", .needs(.git, .gitDaemon))
struct SystemGitDaemonTests {
    @Test("head is one ls-remote; a checkout is exactly its commit: no later file, no deleted file, no .git")
    func headAndCheckout() async throws {
        let fixture = try GitFixture()
        let first = try fixture.commit("first", files: ["etc/a.json": "{}\n", "stacks/web/compose.yml": "services: {}\n", "gone.txt": "old\n"])
        let second = try fixture.commit("second: gone.txt removed", files: ["etc/b.json": "{\"b\": 1}\n"], removing: ["gone.txt"])
        let daemon = try GitDaemonServer(fixture)
        defer { daemon.stop() }
        let work = try TemporaryDirectory("phoenix-agent-work")
        let log = InvocationLog()
        let git = try makeGit(daemon.url, work: work, log: log)

        log.clear()
        #expect(try await git.head(branch: "main") == second)
        #expect(log.subcommands == ["ls-remote"])

        let old = try await git.checkout(first, branch: "main")
        #expect(old.commit == first && old.path == work.file("agent/trees/\(first)"))
        #expect(old.subject == "first" && old.author == "Test Author <author@example.net>")
        #expect(listing(old.path) == ["etc", "etc/a.json", "gone.txt", "stacks", "stacks/web", "stacks/web/compose.yml"])
        #expect(try String(contentsOfFile: "\(old.path)/gone.txt", encoding: .utf8) == "old\n")

        let new = try await git.checkout(second, branch: "main")
        #expect(new.subject == "second: gone.txt removed")
        #expect(listing(new.path) == ["etc", "etc/a.json", "etc/b.json", "stacks", "stacks/web", "stacks/web/compose.yml"])
        #expect(listing(old.path).contains("gone.txt"), "an earlier tree is left as it was")
        #expect(listing(work.file("agent/trees")).allSatisfy { !$0.hasPrefix(".") && !$0.contains(".git") && !$0.contains("index") })
    }

    @Test("a commit already here is not fetched again; a tree already here is not written again")
    func noSecondFetch() async throws {
        let fixture = try GitFixture()
        let first = try fixture.commit("first", files: ["a": "1\n"])
        let second = try fixture.commit("second", files: ["a": "2\n"])
        let daemon = try GitDaemonServer(fixture)
        defer { daemon.stop() }
        let work = try TemporaryDirectory("phoenix-agent-work")
        let log = InvocationLog()
        let git = try makeGit(daemon.url, work: work, log: log)

        log.clear()
        _ = try await git.checkout(second, branch: "main")
        #expect(log.subcommands == ["log", "fetch", "log", "read-tree"], "a new commit: not here, fetched, described, written")
        log.clear()
        _ = try await git.checkout(first, branch: "main")
        #expect(log.subcommands == ["log", "read-tree"], "fetched with the branch already: described and written, no fetch")
        log.clear()
        let again = try await git.checkout(second, branch: "main")
        #expect(log.subcommands == ["log"], "here, tree and all: only described")
        #expect(try String(contentsOfFile: "\(again.path)/a", encoding: .utf8) == "2\n")

        // With the server gone, what is here still checks out.
        daemon.stop()
        #expect(try await git.checkout(first, branch: "main").commit == first)
    }

    @Test("only the newest trees are kept; what an interrupted checkout left is removed at the next start")
    func pruning() async throws {
        let fixture = try GitFixture()
        var commits: [String] = []
        for number in 1...4 { commits.append(try fixture.commit("commit \(number)", files: ["n": "\(number)\n"])) }
        let daemon = try GitDaemonServer(fixture)
        defer { daemon.stop() }
        let work = try TemporaryDirectory("phoenix-agent-work")
        let git = try makeGit(daemon.url, work: work, keepTrees: 2)
        for commit in commits { _ = try await git.checkout(commit, branch: "main") }
        let trees = try FileManager.default.contentsOfDirectory(atPath: work.file("agent/trees")).sorted()
        #expect(trees == [commits[2], commits[3]].sorted())

        // Checked out again, an older tree becomes the newest: the other one goes.
        _ = try await git.checkout(commits[0], branch: "main")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.file("agent/trees")).sorted() == [commits[0], commits[3]].sorted())

        // A half-written tree under a staging name (a crash mid-checkout) never survives a start.
        try work.write("agent/trees/.staging-\(commits[1])-crashed/tree/n", "half")
        _ = try makeGit(daemon.url, work: work, keepTrees: 2)
        #expect(!FileManager.default.fileExists(atPath: work.file("agent/trees/.staging-\(commits[1])-crashed")))
        #expect(!FileManager.default.fileExists(atPath: work.file("agent/trees/\(commits[1])")))
    }

    @Test("a missing branch or commit is notFound; a stopped server is unreachable")
    func failures() async throws {
        let fixture = try GitFixture()
        let commit = try fixture.commit("first", files: ["a": "1\n"])
        let daemon = try GitDaemonServer(fixture)
        let work = try TemporaryDirectory("phoenix-agent-work")
        let git = try makeGit(daemon.url, work: work)

        let noBranch = await gitError { _ = try await git.head(branch: "production") }
        #expect(noBranch?.reason == .notFound, "\(String(describing: noBranch))")
        let noBranchCheckout = await gitError { _ = try await git.checkout(commit, branch: "production") }
        #expect(noBranchCheckout?.reason == .notFound, "\(String(describing: noBranchCheckout))")
        let absent = String(repeating: "ab", count: 20)
        let noCommit = await gitError { _ = try await git.checkout(absent, branch: "main") }
        #expect(noCommit?.reason == .notFound && noCommit?.message.contains(absent) == true, "\(String(describing: noCommit))")
        let notACommit = await gitError { _ = try await git.checkout("--upload-pack=touch", branch: "main") }
        #expect(notACommit?.reason == .failed, "\(String(describing: notACommit))")
        let badBranch = await gitError { _ = try await git.head(branch: "-x") }
        #expect(badBranch?.reason == .failed, "\(String(describing: badBranch))")

        let later = try fixture.commit("later", files: ["a": "2\n"])
        daemon.stop()
        let down = await gitError { _ = try await git.head(branch: "main") }
        #expect(down?.reason == .unreachable, "\(String(describing: down))")
        let downCheckout = await gitError { _ = try await git.checkout(later, branch: "main") }
        #expect(downCheckout?.reason == .unreachable, "\(String(describing: downCheckout))")
    }
}
