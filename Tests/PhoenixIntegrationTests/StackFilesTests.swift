import Foundation
import PhoenixTesting
import Testing

/// The files stage against real rsync, from stack directories checked out the way an agent does it
/// (every commit afresh, so every file has the checkout's time). The host is a folder.
@Suite("Stack files from fresh checkouts", .serialized, .needs(.syncLab, .rsync))
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
