import Foundation
import PhoenixAgent
import PhoenixCore
import Testing

/// Requests as ntfy, Gotify, Slack and Discord document their webhooks (none of them runs here;
/// the requests are checked as sent).
@Suite("Notification targets")
struct NotificationTargetTests {
    static let failure = AgentNotification(
        event: .failure, estate: "lab", commit: "9fceb02d0ae598e95dc970b74767f19372d61af8", run: "17", outcome: "rolled back",
        message: "failed: stack:web (health)", url: "https://agent.lab/runs/17")

    static func body(_ request: HTTPRequestMessage) -> String { String(decoding: request.body ?? [], as: UTF8.self) }

    @Test(
        "each kind is read from its prefix, and shows only its kind and host",
        arguments: [
            ("https://hooks.example.com/phoenix/abc", NotificationTarget.Kind.webhook, "webhook (hooks.example.com)"),
            ("ntfy+https://ntfy.sh/phoenix-lab-x7", .ntfy, "ntfy (ntfy.sh)"),
            ("gotify+https://push.example.com/message?token=AbCdEf", .gotify, "gotify (push.example.com)"),
            ("slack+https://hooks.slack.com/services/T0/B0/XXXX", .slack, "slack (hooks.slack.com)"),
            ("discord+https://discord.com/api/webhooks/1/abc", .discord, "discord (discord.com)"),
        ])
    func kinds(text: String, kind: NotificationTarget.Kind, shown: String) throws {
        let target = try NotificationTarget(text)
        #expect(target.kind == kind)
        #expect(target.description == shown)
    }

    @Test("an unknown kind, a URL that is not http(s), and a Gotify URL without token are refused without quoting the URL")
    func refused() {
        #expect(throws: NotificationTargetError.unknownKind("matrix")) { try NotificationTarget("matrix+https://m.example.com/secret-room") }
        #expect(throws: NotificationTargetError.notAURL) { try NotificationTarget("mailto:ops@example.com") }
        #expect(throws: NotificationTargetError.gotifyWithoutToken(host: "push.example.com")) {
            try NotificationTarget("gotify+https://push.example.com/message")
        }
        #expect(!NotificationTargetError.unknownKind("matrix").description.contains("secret-room"))
    }

    @Test("generic webhook: the JSON document with every field")
    func generic() throws {
        let request = try NotificationTarget("https://hooks.example.com/phoenix").request(for: Self.failure)
        #expect(request.method == "POST")
        #expect(request.url == "https://hooks.example.com/phoenix")
        #expect(request.header("Content-Type") == "application/json")
        #expect(
            Self.body(request)
                == #"{"event":"failure","estate":"lab","commit":"9fceb02d0ae598e95dc970b74767f19372d61af8","run":"17","outcome":"rolled back","message":"failed: stack:web (health)","url":"https://agent.lab/runs/17"}"#
        )
        let bare = AgentNotification(event: .recovery, estate: "lab", commit: nil, run: nil, outcome: "succeeded", message: "ok", url: nil)
        #expect(
            Self.body(try NotificationTarget("https://h.example.com/x").request(for: bare))
                == #"{"event":"recovery","estate":"lab","commit":null,"run":null,"outcome":"succeeded","message":"ok","url":null}"#)
    }

    @Test("ntfy: the message as text, with Title, Priority, Tags and Click headers; credentials become a header")
    func ntfy() throws {
        let request = try NotificationTarget("ntfy+https://ops:pa55@ntfy.example.com/phoenix").request(for: Self.failure)
        #expect(request.url == "https://ntfy.example.com/phoenix")
        #expect(Self.body(request) == "failed: stack:web (health)")
        #expect(request.header("Title") == "phoenix: lab failed")
        #expect(request.header("Priority") == "high")
        #expect(request.header("Tags") == "warning")
        #expect(request.header("Click") == "https://agent.lab/runs/17")
        #expect(request.header("Authorization") == "Basic " + Data("ops:pa55".utf8).base64EncodedString())
        let token = try NotificationTarget("ntfy+https://:tk_abc@ntfy.example.com/phoenix").request(for: Self.failure)
        #expect(token.header("Authorization") == "Bearer tk_abc")
        let recovery = AgentNotification(event: .recovery, estate: "läb\n", commit: nil, run: nil, outcome: "succeeded", message: "ok", url: nil)
        let encoded = try NotificationTarget("ntfy+https://ntfy.example.com/phoenix").request(for: recovery)
        #expect(encoded.header("Priority") == "default")
        #expect(encoded.header("Tags") == "white_check_mark")
        #expect(encoded.header("Title") == "=?UTF-8?B?" + Data("phoenix: läb  recovered".utf8).base64EncodedString() + "?=")
        #expect(encoded.header("Click") == nil)
    }

    @Test("Gotify: title, message and priority as JSON; the token moves from the query to X-Gotify-Key")
    func gotify() throws {
        let request = try NotificationTarget("gotify+https://push.example.com/message?token=AbCdEf").request(for: Self.failure)
        #expect(request.url == "https://push.example.com/message")
        #expect(request.header("X-Gotify-Key") == "AbCdEf")
        #expect(
            Self.body(request)
                == #"{"title":"phoenix: lab failed","message":"failed: stack:web (health)\ncommit 9fceb02d0ae5, run 17\nhttps://agent.lab/runs/17","priority":8}"#
        )
    }

    @Test("Gotify: a token file is read at each send")
    func gotifyTokenFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("gotify").path
        let target = try NotificationTarget("gotify+https://push.example.com/message?token_file=\(path)")
        #expect(throws: SecretFileError.unreadable(path: path, reason: "no such file")) { try target.request(for: Self.failure) }
        try Data("AppToken1\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try target.request(for: Self.failure).header("X-Gotify-Key") == "AppToken1")
        #expect(try target.request(for: Self.failure).url == "https://push.example.com/message")
    }

    @Test("Slack takes text, Discord takes content")
    func chat() throws {
        let text = "phoenix: lab failed\\nfailed: stack:web (health)\\ncommit 9fceb02d0ae5, run 17\\nhttps://agent.lab/runs/17"
        let slack = try NotificationTarget("slack+https://hooks.slack.com/services/T0/B0/XXXX").request(for: Self.failure)
        #expect(slack.url == "https://hooks.slack.com/services/T0/B0/XXXX")
        #expect(Self.body(slack) == #"{"text":"\#(text)"}"#)
        let discord = try NotificationTarget("discord+https://discord.com/api/webhooks/1/abc").request(for: Self.failure)
        #expect(discord.url == "https://discord.com/api/webhooks/1/abc")
        #expect(Self.body(discord) == #"{"content":"\#(text)"}"#)
    }
}
