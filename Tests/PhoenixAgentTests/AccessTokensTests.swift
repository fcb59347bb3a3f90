import PhoenixAgent
import PhoenixTesting
import Testing

@Suite("Access tokens")
struct AccessTokensTests {
    static let file = """
        # who may use the agent's API
        operate alice \(WebhookSigning.sha256Hex("alice-token"))

        read    grafana\t\(WebhookSigning.sha256Hex("grafana-token").uppercased())
          # indented comment
        """

    @Test("operate includes read; read does not include operate")
    func roles() {
        #expect(Role.operate.allows(.read))
        #expect(Role.operate.allows(.operate))
        #expect(Role.read.allows(.read))
        #expect(!Role.read.allows(.operate))
    }

    @Test("lines name a role, a name and a token's hash; comments and blank lines are skipped")
    func parse() throws {
        let tokens = try AccessTokens.parse(Self.file, path: "/etc/phoenix/tokens")
        #expect(tokens.identities == [Identity(name: "alice", role: .operate), Identity(name: "grafana", role: .read)])
        #expect(try AccessTokens.parse("", path: "t").identities.isEmpty)
    }

    @Test("a bearer token is hashed and matched; anything else names nobody")
    func authorize() throws {
        let tokens = try AccessTokens.parse(Self.file, path: "tokens")
        #expect(tokens.authorize(authorization: "Bearer alice-token") == Identity(name: "alice", role: .operate))
        #expect(tokens.authorize(authorization: "bearer   grafana-token ") == Identity(name: "grafana", role: .read))
        for header in [nil, "", "Bearer", "Bearer ", "Basic alice-token", "Bearer alice-toke", "Bearer alice-token2", "alice-token", "Bearer ALICE-TOKEN"] {
            #expect(tokens.authorize(authorization: header) == nil, "\(header ?? "nil")")
        }
        #expect(tokens.authorize(token: "grafana-token")?.role == .read)
    }

    @Test(
        "a bad line is an error with the file and line number, and never the hash",
        arguments: [
            ("read alice", 1, "expected three fields"),
            ("admin alice \(WebhookSigning.sha256Hex("x"))", 1, "must be a role"),
            ("# c\n\nread alice abc123", 3, "SHA-256 of the token"),
            ("read alice \(String(repeating: "g", count: 64))", 1, "SHA-256 of the token"),
            ("read a \(WebhookSigning.sha256Hex("x"))\nread a \(WebhookSigning.sha256Hex("y"))", 2, "already given"),
            ("read a \(WebhookSigning.sha256Hex("x"))\noperate b \(WebhookSigning.sha256Hex("x"))", 2, "already given on line 1"),
        ])
    func errors(text: String, line: Int, words: String) {
        do {
            _ = try AccessTokens.parse(text, path: "/etc/phoenix/tokens")
            Issue.record("parsed \(text)")
        } catch {
            guard case let .invalidLine(path, number, reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(path == "/etc/phoenix/tokens")
            #expect(number == line)
            #expect(reason.contains(words), "\(reason)")
            #expect(error.description.hasPrefix("/etc/phoenix/tokens:\(line): "))
            #expect(!error.description.contains(WebhookSigning.sha256Hex("x")))
        }
    }
}
