import Foundation
import PhoenixCore
import PhoenixState
import PhoenixTesting
import Testing

/// The files stage against real rsync, from stack directories checked out the way an agent does it
/// (every commit afresh, so every file has the checkout's time), and `rollback RUN` of those files.
/// The host is a folder.
@Suite("Stack files from fresh checkouts, and their rollback", .serialized, .needs(.syncLab, .rsync))
struct StackFilesTests {
    @Test("a second checkout: a file whose time alone differs is left as installed, only the changed file is written, then a no-op")
    func twoCheckouts() throws {
        let lab = try SyncLab.make()
        _ = try realProgram("rsync")
        let installed = lab.host + "/quickOS/portainer_stacks"
        let files = [
            "vectordb/docker-compose.yml": "services:\n  qdrant:\n    image: qdrant/qdrant:v1.9.0\n",
            "web/docker-compose.yml": "services:\n  web:\n    image: nginx:1.25\n",
            "web/web.env": "WEB_TITLE=lab\n",
        ]
        let first = lab.directory.file("checkout-1/stacks")
        for (path, contents) in files { try write(contents, to: "\(first)/\(path)") }
        let one = try lab.phoenix(["sync", "files", "--stacks-dir", first])
        #expect(one.status == 0, "\(one.stdout)\(one.stderr)")
        let unchanged = try #require(Stamp(of: "\(installed)/vectordb/docker-compose.yml"))
        let env = try #require(Stamp(of: "\(installed)/web/web.env"))
        let replaced = try #require(Stamp(of: "\(installed)/web/docker-compose.yml"))

        // The second checkout: the same files checked out again at another time, and web's compose file changed.
        let second = lab.directory.file("checkout-2/stacks")
        for (path, contents) in files { try write(contents, to: "\(second)/\(path)") }
        try write("services:\n  web:\n    image: nginx:1.27\n", to: "\(second)/web/docker-compose.yml")
        let checkedOut = Date(timeIntervalSince1970: 978_307_200)  // 2001-01-01: no time phoenix installed anything at
        for path in ["vectordb/docker-compose.yml", "web/docker-compose.yml"] {
            try FileManager.default.setAttributes([.modificationDate: checkedOut], ofItemAtPath: "\(second)/\(path)")
        }
        let source = try #require(Stamp(of: "\(second)/web/docker-compose.yml"))
        #expect(try #require(Stamp(of: "\(second)/vectordb/docker-compose.yml")).time != unchanged.time, "the checkout's time is not the installed one")

        let plan = try lab.phoenix(["plan", "files", "--stacks-dir", second, "--format", "json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let changes = (try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["changes"] as? [[String: Any]] ?? []
        let actions = Dictionary(uniqueKeysWithValues: changes.map { ($0["id"] as! String, $0["action"] as! String) })
        #expect(
            actions == ["files:vectordb/docker-compose.yml": "unchanged", "files:web/docker-compose.yml": "update", "files:web/web.env": "unchanged"],
            "\(actions)")

        let marker = lab.directory.file("before-the-second-sync")
        try write("", to: marker)
        let two = try lab.phoenix(["sync", "files", "--stacks-dir", second])
        #expect(two.status == 0, "\(two.stdout)\(two.stderr)")
        #expect(try String(contentsOfFile: "\(installed)/web/docker-compose.yml", encoding: .utf8).contains("nginx:1.27"))
        // Nothing written, nothing touched: the same inode with the same time.
        #expect(Stamp(of: "\(installed)/vectordb/docker-compose.yml") == unchanged)
        #expect(Stamp(of: "\(installed)/web/web.env") == env)
        let written = try #require(Stamp(of: "\(installed)/web/docker-compose.yml"))
        #expect(written.inode != replaced.inode, "the changed file was written: rsync renames a new copy into place")
        #expect(written.time != source.time, "the checkout's time is not copied")
        #expect(try written.time >= #require(Stamp(of: marker)).time, "the changed file has the time it was installed")

        // A no-op from the second checkout changes nothing on the host.
        let tree = lab.treeChecksumExcludingState()
        let three = try lab.phoenix(["sync", "files", "--stacks-dir", second])
        #expect(three.status == 0, "\(three.stdout)\(three.stderr)")
        #expect(three.stdout.contains("No changes"), "\(three.stdout)")
        #expect(lab.treeChecksumExcludingState() == tree)
        #expect(Stamp(of: "\(installed)/web/docker-compose.yml") == written)
    }

    @Test("rollback RUN puts back the stack files the run left; one kept only as a keyed hash and changed since refuses it, nothing changed")
    func rollback() throws {
        let lab = try SyncLab.make()
        _ = try realProgram("rsync")
        let source = lab.directory.file("stacks")
        let installed = lab.host + "/quickOS/portainer_stacks"
        func read(_ path: String) throws -> String { try String(contentsOfFile: "\(installed)/\(path)", encoding: .utf8) }
        let web = "services:\n  web:\n    image: nginx:1.25\n"
        let composes = (1...3).map { "services:\n  app:\n    image: busybox:1.3\($0)\n" }
        let tokens = ["APP_TOKEN=first-token-5d1c\n", "APP_TOKEN=second-token-9e2a\n"]
        try write(composes[0], to: "\(source)/app/docker-compose.yml")
        try write(web, to: "\(source)/web/docker-compose.yml")
        try write(tokens[0], to: "\(source)/app/app.env")
        #expect(try lab.phoenix(["sync", "files"]).status == 0, "run 1 creates the three files")
        try write(composes[1], to: "\(source)/app/docker-compose.yml")
        #expect(try lab.phoenix(["sync", "files"]).status == 0, "run 2 updates one")
        #expect(try read("app/docker-compose.yml") == composes[1])

        let back = try lab.phoenix(["rollback", "1"])
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        #expect(back.stdout.contains("update /quickOS/portainer_stacks/app/docker-compose.yml"), "\(back.stdout)")
        #expect(try read("app/docker-compose.yml") == composes[0])
        #expect(try read("web/docker-compose.yml") == web)
        #expect(try read("app/app.env") == tokens[0], "as run 1 left it: nothing to put back")
        #expect(try lab.phoenix(["plan", "files", "--detailed-exitcode"]).status == 2, "the stacks directory still asks for run 2's file")

        // Run 4 goes forward again; run 5 changes the env file (kept only as a keyed hash) and the compose file.
        #expect(try lab.phoenix(["sync", "files"]).status == 0)
        try write(composes[2], to: "\(source)/app/docker-compose.yml")
        try write(tokens[1], to: "\(source)/app/app.env")
        let five = try lab.phoenix(["sync", "files"])
        #expect(five.status == 0, "\(five.stdout)\(five.stderr)")
        let refused = try lab.phoenix(["rollback", "4"])
        #expect(refused.status == 1, "\(refused.stdout)")
        #expect(
            refused.stderr.contains("rollback to run 4 refused, nothing was changed: files:app/app.env (changed since) may hold secrets"),
            "\(refused.stderr)")
        #expect(!(refused.stdout + refused.stderr).contains("token-"), "never a secret in the output")
        #expect(try read("app/docker-compose.yml") == composes[2], "not even the file it could put back: all or nothing")
        #expect(try read("app/app.env") == tokens[1])
        let history = try lab.phoenix(["history"])
        #expect(history.status == 0)
        #expect(history.stdout.contains("rollback 4  failed: rollback to run 4 refused"), "\(history.stdout)")

        // One deleted by hand since the run: refused too, naming it.
        try FileManager.default.removeItem(atPath: "\(installed)/app/app.env")
        let deleted = try lab.phoenix(["rollback", "5"])
        #expect(deleted.status == 1, "\(deleted.stdout)")
        #expect(deleted.stderr.contains("files:app/app.env (deleted since)"), "\(deleted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(installed)/app/app.env"))

        // --target limits a rollback to the guests' own files: the host-wide stack files are left alone, not refused.
        let targeted = try lab.phoenix(["rollback", "4", "--target", "101"])
        #expect(targeted.status == 0, "\(targeted.stdout)\(targeted.stderr)")
        #expect(try read("app/docker-compose.yml") == composes[2])
    }

    @Test("a compose file an earlier version recorded only as a keyed hash is recorded with its contents by the next run, which a rollback can then restore")
    func keyedHashRecordedAgain() async throws {
        let lab = try SyncLab.make()
        _ = try realProgram("rsync")
        let compose = lab.directory.file("stacks/app/docker-compose.yml")
        let installed = lab.host + "/quickOS/portainer_stacks/app/docker-compose.yml"
        let versions = ["services:\n  app:\n    image: busybox:1.35\n", "services:\n  app:\n    image: busybox:1.36\n"]
        try write(versions[0], to: compose)
        #expect(try lab.phoenix(["sync", "files"]).status == 0)
        // Run 2 is what an earlier version left: every stack file recorded only as a keyed hash.
        let store = try StateStore(path: lab.state)
        let (run, _) = try await store.beginRun(command: "sync files", user: "ops", host: "h")
        try store.recordApplied(
            run: run,
            Resource(
                id: "files:app/docker-compose.yml", unit: .stackFiles, path: "/quickOS/portainer_stacks/app/docker-compose.yml", contents: versions[0],
                mode: "0644", activation: .none, origin: "stacks/app/docker-compose.yml", sensitive: true))
        try store.snapshot(run: run)
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        #expect(try store.snapshot(of: run).withoutContents.map(\.id) == ["files:app/docker-compose.yml"])

        let noOp = try lab.phoenix(["sync", "files"])
        #expect(noOp.status == 0, "\(noOp.stdout)\(noOp.stderr)")
        #expect(noOp.stdout.contains("No changes"), "run 3 writes nothing to the host")
        #expect(try store.snapshot(of: 3).resources.map(\.contents) == [versions[0]], "but records the contents")
        try write(versions[1], to: compose)
        #expect(try lab.phoenix(["sync", "files"]).status == 0)
        let refused = try lab.phoenix(["rollback", "2"])
        #expect(refused.status == 1, "\(refused.stdout)")
        #expect(refused.stderr.contains("files:app/docker-compose.yml (changed since)"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: installed, encoding: .utf8) == versions[1])
        let back = try lab.phoenix(["rollback", "3"])
        #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
        #expect(try String(contentsOfFile: installed, encoding: .utf8) == versions[0])
    }

    private func write(_ contents: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
    }
}

/// A file's inode and modification time: a file rsync or phoenix writes is a new inode (a copy
/// renamed into place), one left alone keeps both.
private struct Stamp: Equatable {
    let inode: UInt64
    let time: Time

    struct Time: Equatable, Comparable {
        let seconds: Int
        let nanoseconds: Int
        static func < (lhs: Time, rhs: Time) -> Bool { (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds) }
    }

    init?(of path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        inode = UInt64(status.st_ino)
        time = Time(seconds: Int(status.st_mtim.tv_sec), nanoseconds: Int(status.st_mtim.tv_nsec))
    }
}
