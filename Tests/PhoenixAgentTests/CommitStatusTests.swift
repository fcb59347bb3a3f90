import PhoenixAgent
import PhoenixCore
import Testing

/// Requests as GitHub, Gitea/Forgejo and GitLab document their commit status APIs (none of them
/// runs here; the requests are checked as sent).
@Suite("Commit status requests")
struct CommitStatusTests {
    static let sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"

    @Test(
        "the provider is inferred from the path, or given by a prefix",
        arguments: [
            ("https://api.github.com/repos/octo/estate", CommitStatusProvider.github, "https://api.github.com/repos/octo/estate"),
            ("https://ghe.example.com/api/v3/repos/octo/estate/", .github, "https://ghe.example.com/api/v3/repos/octo/estate"),
            ("https://git.example.com/api/v1/repos/ops/lab", .gitea, "https://git.example.com/api/v1/repos/ops/lab"),
            ("https://gitlab.example.com/api/v4/projects/42", .gitlab, "https://gitlab.example.com/api/v4/projects/42"),
            ("https://gitlab.example.com/api/v4/projects/ops%2Flab", .gitlab, "https://gitlab.example.com/api/v4/projects/ops%2Flab"),
            ("gitea+http://127.0.0.1:3000/proxy/repos/ops/lab", .gitea, "http://127.0.0.1:3000/proxy/repos/ops/lab"),
            ("github+https://api.github.com/repos/octo/estate", .github, "https://api.github.com/repos/octo/estate"),
        ])
    func providers(text: String, provider: CommitStatusProvider, base: String) throws {
        let api = try CommitStatusAPI(text)
        #expect(api.provider == provider)
        #expect(api.base == base)
    }

    @Test("a URL of no known API, or not http(s), or with credentials in it, is refused")
    func refused() {
        #expect(throws: CommitStatusAPIError.unknownProvider(host: "git.example.com")) { try CommitStatusAPI("https://git.example.com/ops/lab") }
        #expect(throws: CommitStatusAPIError.notAURL) { try CommitStatusAPI("ftp://git.example.com/api/v1/repos/a/b") }
        #expect(throws: CommitStatusAPIError.notAURL) { try CommitStatusAPI("https://user:pw@git.example.com/api/v1/repos/a/b") }
        #expect(throws: CommitStatusAPIError.notAURL) { try CommitStatusAPI("not a url") }
    }

    @Test("GitHub: POST …/statuses/{sha}, a bearer token, state, target_url, description and context")
    func github() throws {
        let api = try CommitStatusAPI("https://api.github.com/repos/octo/estate")
        let request = try api.request(
            commit: Self.sha, state: .failure, context: "phoenix/lab", description: "2 resources failed", targetURL: "https://agent/runs/7", token: "ghp_x")
        #expect(request.method == "POST")
        #expect(request.url == "https://api.github.com/repos/octo/estate/statuses/\(Self.sha)")
        #expect(request.header("Authorization") == "Bearer ghp_x")
        #expect(request.header("Accept") == "application/vnd.github+json")
        #expect(request.header("X-GitHub-Api-Version") == "2022-11-28")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("User-Agent") == "phoenix-agent")
        #expect(
            String(decoding: request.body ?? [], as: UTF8.self)
                == #"{"state":"failure","target_url":"https://agent/runs/7","description":"2 resources failed","context":"phoenix/lab"}"#)
    }

    @Test("Gitea and Forgejo: the same fields, with the token scheme")
    func gitea() throws {
        let api = try CommitStatusAPI("https://git.example.com/api/v1/repos/ops/lab")
        let request = try api.request(
            commit: Self.sha.uppercased(), state: .pending, context: "phoenix/lab", description: "planning", targetURL: nil, token: "tok")
        #expect(request.url == "https://git.example.com/api/v1/repos/ops/lab/statuses/\(Self.sha)")
        #expect(request.header("Authorization") == "token tok")
        #expect(request.header("PRIVATE-TOKEN") == nil)
        #expect(String(decoding: request.body ?? [], as: UTF8.self) == #"{"state":"pending","description":"planning","context":"phoenix/lab"}"#)
    }

    @Test("GitLab: PRIVATE-TOKEN, name for the context, and GitLab's state words")
    func gitlab() throws {
        let api = try CommitStatusAPI("https://gitlab.example.com/api/v4/projects/ops%2Flab")
        let request = try api.request(
            commit: Self.sha, state: .failure, context: "phoenix/lab", description: "rolled back", targetURL: "https://agent/runs/8", token: "glpat-x")
        #expect(request.method == "POST")
        #expect(request.url == "https://gitlab.example.com/api/v4/projects/ops%2Flab/statuses/\(Self.sha)")
        #expect(request.header("PRIVATE-TOKEN") == "glpat-x")
        #expect(request.header("Authorization") == nil)
        #expect(
            String(decoding: request.body ?? [], as: UTF8.self)
                == #"{"state":"failed","target_url":"https://agent/runs/8","description":"rolled back","name":"phoenix/lab"}"#)
        #expect(api.providerState(.pending) == "pending")
        #expect(api.providerState(.success) == "success")
        #expect(api.providerState(.error) == "failed")
        #expect(api.providerState(.canceled) == "canceled")
        #expect(try CommitStatusAPI("https://api.github.com/repos/a/b").providerState(.canceled) == "error")
    }

    @Test("the description is cut to 140 characters")
    func description() throws {
        let api = try CommitStatusAPI("https://api.github.com/repos/octo/estate")
        let request = try api.request(
            commit: Self.sha, state: .success, context: "c", description: String(repeating: "é", count: 300), targetURL: nil, token: "t")
        let body = try JSONParser.parse(request.body ?? []).value
        #expect(body["description"]?.stringValue?.count == 140)
        #expect(body["description"]?.stringValue?.hasSuffix("…") == true)
    }

    @Test("a commit must be a full hexadecimal id: nothing else reaches the URL")
    func commitIDs() throws {
        let api = try CommitStatusAPI("https://api.github.com/repos/octo/estate")
        for bad in ["9fceb02", "../../../x", Self.sha.dropLast() + "g", ""] {
            #expect(throws: CommitStatusAPIError.invalidCommit) {
                try api.request(commit: String(bad), state: .success, context: "c", description: "", targetURL: nil, token: "t")
            }
        }
        _ = try api.request(commit: String(repeating: "ab", count: 32), state: .success, context: "c", description: "", targetURL: nil, token: "t")
    }

    @Test("the API's description shows only the provider and the host")
    func redacted() throws {
        #expect("\(try CommitStatusAPI("https://git.example.com/api/v1/repos/ops/lab"))" == "gitea (git.example.com)")
        #expect(CommitStatusReporter.context(estate: "lab") == "phoenix/lab")
    }
}
