import Testing

@testable import PhoenixEngine

/// How the files stage reads rsync's `--itemize-changes` (lines as rsync 3.2 prints them).
@Suite("rsync's itemized changes")
struct RsyncItemizeTests {
    @Test(
        "only files whose contents rsync would send count; a time, a mode or a directory does not",
        arguments: [
            (">f+++++++++ web/docker-compose.yml", true), (">fc.T...... web/docker-compose.yml", true), ("<fcsT...... web/web.env", true),
            (".f..t...... vectordb/docker-compose.yml", false), (".f...p..... vectordb/docker-compose.yml", false),
            (".f....og... web/web.env", false), ("cd+++++++++ web/", false), (".d..t...... web/", false),
        ])
    func contentsToSend(line: String, counts: Bool) {
        let listed = StackFilesDriver.contentsToSend(itemized: "\(line)\n")
        #expect(listed == (counts ? [line] : []))
    }

    @Test("several lines: the ones to send, in order")
    func several() {
        let output = ".f..t...... a/docker-compose.yml\n>fc.T...... b/docker-compose.yml\ncd+++++++++ c/\n>f+++++++++ c/c.env\n"
        #expect(StackFilesDriver.contentsToSend(itemized: output) == [">fc.T...... b/docker-compose.yml", ">f+++++++++ c/c.env"])
    }
}
