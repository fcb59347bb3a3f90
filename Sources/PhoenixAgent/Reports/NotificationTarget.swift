import Foundation
import PhoenixCore

/// Why a `--notify` URL cannot be used. Never quotes the URL, which is a secret.
public enum NotificationTargetError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAURL
    case unknownKind(String)
    case gotifyWithoutToken(host: String)

    public var description: String {
        switch self {
        case .notAURL: return "a --notify value is not an http(s) URL"
        case let .unknownKind(kind):
            return
                "a --notify value starts with \(kind)+, which is not a kind phoenix sends to: use ntfy+, gotify+, slack+, discord+, or a plain https:// URL for JSON"
        case let .gotifyWithoutToken(host):
            return "the gotify URL for \(host) has no token: add ?token=… or ?token_file=/path/to/file"
        }
    }
}

/// One `--notify` destination: a generic JSON webhook (`https://…`), `ntfy+https://host/topic`,
/// `gotify+https://host/message?token=…` (or `?token_file=PATH`), `slack+https://…` or
/// `discord+https://…`. The URL is a secret: the description shows only the kind and the host.
public struct NotificationTarget: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case webhook
        case ntfy
        case gotify
        case slack
        case discord
    }

    enum Credential: Sendable {
        case basic(user: String, password: String)
        case bearer(String)
        case gotifyKey(String)
        case gotifyKeyFile(String)
    }

    public let kind: Kind
    public let host: String
    /// Where requests go: without the kind prefix, user information or Gotify token.
    let url: String
    let credential: Credential?

    public init(_ text: String) throws(NotificationTargetError) {
        var rest = text.trimmingCharacters(in: .whitespaces)
        var kind = Kind.webhook
        if let plus = rest.firstIndex(of: "+"), let colon = rest.firstIndex(of: ":"), plus < colon {
            let name = String(rest[..<plus])
            guard let given = Kind(rawValue: name) else {
                throw .unknownKind(name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic } ? String(name.prefix(20)) : "?")
            }
            kind = given
            rest = String(rest[rest.index(after: plus)...])
        }
        guard var components = URLComponents(string: rest), let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty
        else { throw .notAURL }
        var credential: Credential?
        if let user = components.percentEncodedUser, let password = components.percentEncodedPassword {
            let decodedUser = user.removingPercentEncoding ?? user
            let decodedPassword = password.removingPercentEncoding ?? password
            credential = decodedUser.isEmpty ? .bearer(decodedPassword) : .basic(user: decodedUser, password: decodedPassword)
        }
        components.percentEncodedUser = nil
        components.percentEncodedPassword = nil
        if kind == .gotify {
            let items = components.queryItems ?? []
            if let token = items.first(where: { $0.name == "token" })?.value, !token.isEmpty {
                credential = .gotifyKey(token)
            } else if let path = items.first(where: { $0.name == "token_file" })?.value, !path.isEmpty {
                credential = .gotifyKeyFile(path)
            } else {
                throw .gotifyWithoutToken(host: host)
            }
            let kept = items.filter { $0.name != "token" && $0.name != "token_file" }
            components.queryItems = kept.isEmpty ? nil : kept
        }
        guard let url = components.string else { throw .notAURL }
        self.kind = kind
        self.host = host
        self.url = url
        self.credential = credential
    }

    /// `slack (hooks.slack.com)`: all a log line, `--check` or an error shows of it.
    public var description: String { "\(kind.rawValue) (\(host))" }

    /// Parts of the target that must never reach a log line (for redaction of server answers and
    /// transport errors).
    var secrets: [String] {
        var secrets = [url]
        if let components = URLComponents(string: url) {
            secrets += [components.percentEncodedPath, components.path, components.percentEncodedQuery ?? ""]
            secrets += components.path.split(separator: "/").map(String.init).filter { $0.count >= 8 }
        }
        switch credential {
        case let .basic(_, password): secrets.append(password)
        case let .bearer(token), let .gotifyKey(token): secrets.append(token)
        case .gotifyKeyFile, nil: break
        }
        return secrets.filter { $0.count >= 4 }
    }

    /// The request that tells `notification` as this kind of target documents it. Reads a Gotify
    /// token file now, so a rotated token is picked up.
    public func request(for notification: AgentNotification) throws(SecretFileError) -> HTTPRequestMessage {
        var headers: [(name: String, value: String)] = [("User-Agent", "phoenix-agent")]
        switch credential {
        case let .basic(user, password): headers.append(("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()))
        case let .bearer(token): headers.append(("Authorization", "Bearer \(token)"))
        case let .gotifyKey(token): headers.append(("X-Gotify-Key", token))
        case let .gotifyKeyFile(path): headers.append(("X-Gotify-Key", try SecretFile.readText(path)))
        case nil: break
        }
        let json = JSONWriter(sortedKeys: false, pretty: false)
        let body: String
        switch kind {
        case .webhook:
            headers.append(("Content-Type", "application/json"))
            body = json.string(notification.json)
        case .ntfy:
            headers += [
                ("Content-Type", "text/plain; charset=utf-8"), ("Title", Self.headerValue(notification.title)),
                ("Priority", notification.event == .failure ? "high" : "default"),
                ("Tags", notification.event == .failure ? "warning" : "white_check_mark"),
            ]
            if let link = notification.url { headers.append(("Click", Self.headerValue(link))) }
            body = notification.message
        case .gotify:
            headers.append(("Content-Type", "application/json"))
            let priority: Double = notification.event == .failure ? 8 : 4
            body = json.string(.object([("title", .string(notification.title)), ("message", .string(notification.text)), ("priority", .number(priority))]))
        case .slack:
            headers.append(("Content-Type", "application/json"))
            body = json.string(.object([("text", .string(notification.title + "\n" + notification.text))]))
        case .discord:
            headers.append(("Content-Type", "application/json"))
            body = json.string(.object([("content", .string(CommitStatusAPI.cut(notification.title + "\n" + notification.text, to: 2000)))]))
        }
        return HTTPRequestMessage(method: "POST", url: url, headers: headers, body: Array(body.utf8))
    }

    /// A header value on one line, non-ASCII text as an RFC 2047 encoded word (ntfy decodes it).
    static func headerValue(_ text: String) -> String {
        let line = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        guard line.unicodeScalars.allSatisfy(\.isASCII) else { return "=?UTF-8?B?" + Data(line.utf8).base64EncodedString() + "?=" }
        return line
    }
}
