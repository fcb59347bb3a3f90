import Foundation
import PhoenixAgent
import Testing

@Suite("Secret files")
struct SecretFileTests {
    @Test("the secret is the file's contents, less trailing newlines")
    func trailingNewline() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (contents, secret) in [("s3cret\n", "s3cret"), ("s3cret", "s3cret"), ("s3cret\r\n", "s3cret"), (" s3 cret \n\n", " s3 cret ")] {
            let path = directory.appendingPathComponent("secret").path
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            #expect(try SecretFile.read(path) == Array(secret.utf8))
            #expect(try SecretFile.readText(path) == secret)
        }
    }

    @Test("an empty file, a file of newlines, a missing file and a directory are errors naming the file")
    func errors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("webhook-secret").path
        for contents in ["", "\n", "\r\n\n"] {
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            #expect(throws: SecretFileError.empty(path: path)) { try WebhookSecret.load(path) }
        }
        let missing = directory.appendingPathComponent("absent").path
        #expect(throws: SecretFileError.unreadable(path: missing, reason: "no such file")) { try SecretFile.read(missing) }
        #expect(throws: SecretFileError.self) { try SecretFile.read(directory.path) }
        #expect(SecretFileError.empty(path: path).description.contains(path))
    }

    @Test("a secret's description never shows it")
    func description() {
        let secret = WebhookSecret(bytes: Array("hunter2-hunter2".utf8))!
        #expect(!"\(secret)".contains("hunter2"))
        #expect(WebhookSecret(bytes: []) == nil)
    }
}
