import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

/// Deliveries built as each provider documents them (no GitHub, Gitea or GitLab runs here).
@Suite("Webhook verification")
struct WebhookVerifierTests {
    static let secret = "whsec-0123456789"
    static let commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"
    let verifier = WebhookVerifier(secret: WebhookSecret(bytes: Array(Self.secret.utf8))!, branch: "main")

    static func push(_ ref: String = "refs/heads/main", after: String = commit) -> [UInt8] {
        Array(#"{"ref":"\#(ref)","before":"0000000000000000000000000000000000000000","after":"\#(after)","repository":{"name":"estate"}}"#.utf8)
    }

    /// The headers the provider sends with `body`, signed with `secret`.
    static func headers(_ provider: String, body: [UInt8], secret: String = secret, event: String? = nil) -> [(name: String, value: String)] {
        let signature = WebhookSigning.hmacSHA256Hex(secret: secret, body: body)
        switch provider {
        case "github":
            return [
                ("Content-Type", "application/json"), ("X-GitHub-Event", event ?? "push"), ("X-GitHub-Delivery", "gh-1"),
                ("X-Hub-Signature-256", "sha256=" + signature),
            ]
        case "gitea":
            return [("X-Gitea-Event", event ?? "push"), ("X-Gitea-Delivery", "gt-1"), ("X-Gitea-Signature", signature), ("X-Gogs-Signature", signature)]
        case "forgejo":
            return [
                ("X-Forgejo-Event", event ?? "push"), ("X-Forgejo-Delivery", "fj-1"), ("X-Forgejo-Signature", signature),
                ("X-Gitea-Event", event ?? "push"), ("X-Gitea-Signature", signature),
            ]
        case "gogs":
            return [("X-Gogs-Event", event ?? "push"), ("X-Gogs-Delivery", "gg-1"), ("X-Gogs-Signature", signature)]
        default:
            return [("X-Gitlab-Event", event ?? "Push Hook"), ("X-Gitlab-Event-UUID", "gl-1"), ("X-Gitlab-Token", secret)]
        }
    }

    static let senders: [(sender: String, provider: WebhookProvider, delivery: String)] = [
        ("github", .github, "gh-1"), ("gitea", .gitea, "gt-1"), ("forgejo", .gitea, "fj-1"), ("gogs", .gitea, "gg-1"), ("gitlab", .gitlab, "gl-1"),
    ]

    @Test("the path component names the provider")
    func paths() {
        #expect(WebhookProvider(pathComponent: "github") == .github)
        #expect(WebhookProvider(pathComponent: "gitea") == .gitea)
        #expect(WebhookProvider(pathComponent: "gitlab") == .gitlab)
        #expect(WebhookProvider(pathComponent: "bitbucket") == nil)
    }

    @Test("a signed push to the branch is accepted with its delivery id and commit", arguments: senders)
    func good(sender: String, provider: WebhookProvider, delivery: String) {
        let body = Self.push()
        let verdict = verifier.verify(provider, headers: Self.headers(sender, body: body), body: body)
        #expect(verdict == .accepted(WebhookPush(provider: provider, delivery: delivery, branch: "main", after: Self.commit)))
        #expect(verdict.status == 202)
    }

    @Test("a delivery signed with another secret is 401", arguments: senders)
    func wrongSecret(sender: String, provider: WebhookProvider, delivery: String) {
        let body = Self.push()
        let verdict = verifier.verify(provider, headers: Self.headers(sender, body: body, secret: "whsec-0123456788"), body: body)
        guard case .unauthorized = verdict else {
            Issue.record("expected unauthorized, got \(verdict)")
            return
        }
        #expect(verdict.status == 401)
    }

    @Test("a body changed after signing is 401", arguments: senders.filter { $0.provider != .gitlab })
    func tampered(sender: String, provider: WebhookProvider, delivery: String) {
        let headers = Self.headers(sender, body: Self.push())
        #expect(verifier.verify(provider, headers: headers, body: Self.push(after: String(repeating: "a", count: 40))).status == 401)
    }

    @Test("a delivery without its signature header is 401, and says which header", arguments: senders)
    func missing(sender: String, provider: WebhookProvider, delivery: String) {
        let body = Self.push()
        let headers = Self.headers(sender, body: body).filter {
            !$0.name.hasSuffix("Signature") && !$0.name.hasSuffix("Signature-256") && $0.name != "X-Gitlab-Token"
        }
        let verdict = verifier.verify(provider, headers: headers, body: body)
        #expect(verdict.status == 401)
        #expect(verdict.reason.hasPrefix("no X-"))
    }

    @Test("a push to another branch, or a tag, is 202 ignored and starts nothing", arguments: senders)
    func otherBranch(sender: String, provider: WebhookProvider, delivery: String) {
        for ref in ["refs/heads/develop", "refs/heads/main-old", "refs/tags/v1.0"] {
            let body = Self.push(ref)
            let verdict = verifier.verify(provider, headers: Self.headers(sender, body: body), body: body)
            #expect(verdict == .ignored(delivery: delivery, reason: "a push to \(ref), not to refs/heads/main"))
            #expect(verdict.status == 202)
        }
    }

    @Test("a body over 1 MiB is 413 before its signature is looked at", arguments: senders)
    func oversized(sender: String, provider: WebhookProvider, delivery: String) {
        let body = [UInt8](repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
        #expect(verifier.verify(provider, headers: [], body: body) == .tooLarge(limit: 1 << 20))
        #expect(verifier.verify(provider, headers: Self.headers(sender, body: body), body: body).status == 413)
        let limit = [UInt8](repeating: UInt8(ascii: " "), count: 1 << 20)
        #expect(verifier.verify(provider, headers: Self.headers(sender, body: limit), body: limit).status != 413)
    }

    @Test(
        "a signed ping or other event is 202 ignored",
        arguments: [
            ("github", WebhookProvider.github, "ping"), ("github", .github, "pull_request"), ("gitea", .gitea, "create"), ("gitlab", .gitlab, "Tag Push Hook"),
            ("gitlab", .gitlab, "Merge Request Hook"),
        ])
    func notPush(sender: String, provider: WebhookProvider, event: String) {
        let body = Array(#"{"zen":"Keep it logically awesome.","hook_id":1}"#.utf8)
        let verdict = verifier.verify(provider, headers: Self.headers(sender, body: body, event: event), body: body)
        guard case let .ignored(_, reason) = verdict else {
            Issue.record("expected ignored, got \(verdict)")
            return
        }
        #expect(reason == "\(event) is not a push event")
    }

    @Test("an unsigned ping is still 401: nothing is looked at before the signature")
    func unsignedPing() {
        let body = Array(#"{"zen":"x"}"#.utf8)
        #expect(verifier.verify(.github, headers: [("X-GitHub-Event", "ping")], body: body).status == 401)
    }

    @Test("a GitHub signature without sha256=, or not hexadecimal, is 401")
    func malformedSignature() {
        let body = Self.push()
        let hex = WebhookSigning.hmacSHA256Hex(secret: Self.secret, body: body)
        for value in [hex, "sha1=" + hex, "sha256=" + hex.dropLast(2), "sha256=zz" + hex.dropFirst(2)] {
            #expect(verifier.verify(.github, headers: [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", value)], body: body).status == 401, "\(value)")
        }
        let upper = [("X-GitHub-Event", "push"), ("x-hub-signature-256", "sha256=" + hex.uppercased())]
        #expect(verifier.verify(.github, headers: upper, body: body).status == 202)
    }

    @Test("a GitHub form delivery is read from its payload field")
    func formPayload() {
        let json = String(decoding: Self.push(), as: UTF8.self)
        let body = Array(("payload=" + json.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!).utf8)
        var headers = Self.headers("github", body: body)
        headers[0] = ("Content-Type", "application/x-www-form-urlencoded")
        #expect(
            verifier.verify(.github, headers: headers, body: body)
                == .accepted(WebhookPush(provider: .github, delivery: "gh-1", branch: "main", after: Self.commit)))
    }

    @Test("a signed push that is not JSON, or has no ref, is 400")
    func badPush() {
        for body in [Array("not json".utf8), Array(#"{"after":"x"}"#.utf8)] {
            #expect(verifier.verify(.gitea, headers: Self.headers("gitea", body: body), body: body).status == 400)
        }
    }

    @Test("GitLab's other delivery headers name the delivery when the event UUID is absent")
    func gitlabDelivery() {
        let body = Self.push()
        let headers: [(name: String, value: String)] = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", Self.secret), ("Idempotency-Key", "idem-7")]
        #expect(
            verifier.verify(.gitlab, headers: headers, body: body)
                == .accepted(WebhookPush(provider: .gitlab, delivery: "idem-7", branch: "main", after: Self.commit)))
        let old: [(name: String, value: String)] = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", Self.secret)]
        #expect(
            verifier.verify(.gitlab, headers: old, body: body) == .accepted(WebhookPush(provider: .gitlab, delivery: nil, branch: "main", after: Self.commit)))
    }

    @Test("a GitLab token that is a prefix, or longer, is refused")
    func gitlabToken() {
        let body = Self.push()
        for token in [String(Self.secret.dropLast()), Self.secret + "0", "", " "] {
            #expect(verifier.verify(.gitlab, headers: [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", token)], body: body).status == 401, "\(token)")
        }
    }

    @Test("a repeated delivery is found with the run it started; the memory forgets the oldest first")
    func repeatedDelivery() {
        let deliveries = RecentDeliveries(capacity: 3)
        #expect(deliveries.claim("gh-1") == .new)
        #expect(deliveries.claim("gh-1") == .duplicate(run: nil))
        deliveries.assign(run: "42", to: "gh-1")
        #expect(deliveries.claim("gh-1") == .duplicate(run: "42"))
        #expect(deliveries.lookup("gh-1") == .duplicate(run: "42"))
        for id in ["a", "b", "c"] { #expect(deliveries.claim(id) == .new) }
        #expect(deliveries.count == 3)
        #expect(deliveries.lookup("gh-1") == nil)
        #expect(deliveries.claim("gh-1") == .new)
        #expect(deliveries.lookup("a") == nil)
        #expect(deliveries.lookup("b") == .duplicate(run: nil))
    }

    @Test("a restarted agent recalls the deliveries its recorded runs came from, the newest up to its capacity")
    func recalledDeliveries() async throws {
        let store = InMemoryStateStore()
        func queue(_ trigger: RunTrigger) throws -> Int64 {
            try store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: trigger)
        }
        let first = try queue(RunTrigger(.webhook, provider: "github", delivery: "gh-1"))
        let second = try queue(RunTrigger(.webhook, provider: "gitea", delivery: "gt-2"))
        _ = try queue(RunTrigger(.poll))
        let third = try queue(RunTrigger(.webhook, provider: "gitlab", delivery: "gl-3"))
        let all = RecentDeliveries()
        all.recall(try await store.runs(limit: 10))
        #expect(all.lookup("gh-1") == .duplicate(run: String(first)))
        #expect(all.lookup("gt-2") == .duplicate(run: String(second)))
        #expect(all.lookup("gl-3") == .duplicate(run: String(third)))
        #expect(all.count == 3)
        let two = RecentDeliveries(capacity: 2)
        two.recall(try await store.runs(limit: 10))
        #expect(two.lookup("gh-1") == nil && two.lookup("gl-3") == .duplicate(run: String(third)))
    }

    @Test("two copies of a delivery claimed at once: exactly one is new")
    func concurrentClaims() async {
        let deliveries = RecentDeliveries()
        let news = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 { group.addTask { deliveries.claim("same") == .new } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(news == 1)
    }
}
