import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

/// A distinctive secret planted everywhere the agent's reports take one; searched for in every
/// error description, redacted URL and log line they produce.
@Suite("Secret hygiene")
struct SecretHygieneTests {
    static let planted = "PLANTED-q7Zx9Lm2Vw"

    static func expectClean(_ texts: [String], _ also: [String] = [], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(!texts.isEmpty, sourceLocation: sourceLocation)
        for text in texts {
            #expect(!text.contains(planted), "\(text)", sourceLocation: sourceLocation)
            for secret in also { #expect(!text.contains(secret), "\(text)", sourceLocation: sourceLocation) }
        }
    }

    @Test("webhook verdicts quote neither the secret nor the signature or token received")
    func webhooks() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("webhook-secret").path
        try Data((Self.planted + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let secret = try WebhookSecret.load(path)
        let verifier = WebhookVerifier(secret: secret, branch: "main")
        let body = Array(#"{"ref":"refs/heads/main"}"#.utf8)
        let forged = WebhookSigning.hmacSHA256Hex(secret: "guess", body: body)
        let verdicts = [
            verifier.verify(.github, headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", "sha256=" + forged)], body: body),
            verifier.verify(.github, headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", Self.planted)], body: body),
            verifier.verify(.gitea, headers: [("X-Gitea-Event", "push"), ("X-Gitea-Signature", forged)], body: body),
            verifier.verify(.gitlab, headers: [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", Self.planted + "-wrong")], body: body),
            verifier.verify(.gitlab, headers: [("X-Gitlab-Event", Self.planted)], body: body),
        ]
        #expect(verdicts.map(\.status) == [401, 401, 401, 401, 401])
        Self.expectClean(verdicts.map(\.reason) + verdicts.map { "\($0)" } + ["\(secret)", "\(verifier)"], [forged])
        try Data("\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try WebhookSecret.load(path)
            Issue.record("an empty secret file was read")
        } catch { Self.expectClean([error.description]) }
    }

    @Test("tokens file errors never show a token or its hash")
    func tokens() {
        let hash = WebhookSigning.sha256Hex(Self.planted)
        var descriptions: [String] = []
        for text in ["operate alice \(Self.planted)", "\(Self.planted) alice \(hash)", "operate \(hash)", "operate a \(hash)\nread b \(hash)"] {
            do {
                _ = try AccessTokens.parse(text, path: "tokens")
                Issue.record("parsed \(text)")
            } catch { descriptions.append(error.description) }
        }
        Self.expectClean(descriptions, [hash])
    }

    @Test("commit status warnings hide a token the server or the transport repeats")
    func commitStatus() async throws {
        let transport = ScriptedHTTPTransport { (request, n) throws(HTTPTransportError) -> HTTPResponseMessage in
            if n == 0 { throw .unreachable("proxy refused \(request.header("Authorization") ?? "")") }
            return HTTPResponseMessage(status: 401, body: Array("token \(Self.planted) is revoked".utf8))
        }
        let log = LogLines()
        let api = try CommitStatusAPI("https://api.github.com/repos/octo/estate")
        let reporter = CommitStatusReporter(
            api: api, transport: transport, context: "phoenix/lab", token: { Self.planted }, retryDelays: [.zero], warn: log.closure)
        await reporter.report(commit: String(repeating: "a", count: 40), state: .failure, description: "x")
        #expect(transport.requests.first?.header("Authorization") == "Bearer \(Self.planted)")
        #expect(log.all.count == 1)
        Self.expectClean(log.all + ["\(api)"])
    }

    @Test("notification URLs show only kind and host, in descriptions, errors and warnings")
    func notifications() async throws {
        let urls = [
            "slack+https://hooks.slack.com/services/T0/B0/\(Self.planted)",
            "discord+https://discord.com/api/webhooks/1/\(Self.planted)",
            "gotify+https://push.example.com/message?token=\(Self.planted)",
            "ntfy+https://ops:\(Self.planted)@ntfy.example.com/alerts",
            "https://hooks.example.com/\(Self.planted)",
        ]
        let targets = try urls.map(NotificationTarget.init)
        let transport = ScriptedHTTPTransport { (request, n) throws(HTTPTransportError) -> HTTPResponseMessage in
            if n < urls.count { throw .unreachable("cannot connect to \(request.url)") }
            let echoed = request.url + " " + request.headers.map(\.value).joined(separator: " ") + " " + String(decoding: request.body ?? [], as: UTF8.self)
            return HTTPResponseMessage(status: 400, body: Array(echoed.utf8))
        }
        let log = LogLines()
        let notifier = Notifier(targets: targets, transport: transport, retryDelays: [.zero], warn: log.closure)
        #expect(await notifier.send(NotificationTargetTests.failure) == 0)
        #expect(log.all.count == urls.count)
        var errors: [String] = []
        for bad in ["gotify+https://push.example.com/\(Self.planted)", "matrix\(Self.planted)+https://m.example.com/", "https//\(Self.planted)"] {
            do {
                _ = try NotificationTarget(bad)
                Issue.record("accepted a bad URL")
            } catch { errors.append(error.description) }
        }
        Self.expectClean(log.all + targets.map(\.description) + errors)
    }
}
