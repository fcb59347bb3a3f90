import Crypto
import Foundation
import PhoenixCore

/// Checks a webhook request (`POST /hooks/<provider>`) against the shared secret and the watched
/// branch, in this order: size (413, before any hashing), signature or token (401, compared in
/// constant time), event (a non-push is 202 ignored), branch (another branch is 202 ignored).
public struct WebhookVerifier: Sendable, CustomStringConvertible {
    /// The largest body accepted: 1 MiB.
    public static let defaultLimit = 1 << 20

    let secret: WebhookSecret
    let key: SymmetricKey
    /// The watched branch, without `refs/heads/`.
    public let branch: String
    public let limit: Int

    public init(secret: WebhookSecret, branch: String, limit: Int = WebhookVerifier.defaultLimit) {
        self.secret = secret
        self.key = SymmetricKey(data: secret.bytes)
        self.branch = branch.hasPrefix("refs/heads/") ? String(branch.dropFirst("refs/heads/".count)) : branch
        self.limit = limit
    }

    public var description: String { "webhook verifier for \(branch) (\(secret))" }

    /// The verdict on one request: its provider (from the path), headers and body bytes.
    public func verify(_ provider: WebhookProvider, headers: [(name: String, value: String)], body: [UInt8]) -> WebhookVerdict {
        guard body.count <= limit else { return .tooLarge(limit: limit) }
        if let refusal = authenticate(provider, headers: headers, body: body) { return .unauthorized(reason: refusal) }
        let delivery = Self.header(provider.deliveryHeaders, in: headers).flatMap { $0.isEmpty ? nil : $0 }
        guard let event = Self.header(provider.eventHeaders, in: headers) else {
            return .badRequest(reason: "no \(provider.eventHeaders.joined(separator: " or ")) header")
        }
        guard provider.isPush(event: event) else {
            return .ignored(delivery: delivery, reason: "\(Self.printable(event)) is not a push event")
        }
        guard let payload = Self.payload(body, contentType: Self.header(["Content-Type"], in: headers)) else {
            return .badRequest(reason: "the push payload is not JSON")
        }
        guard let ref = payload["ref"]?.stringValue else { return .badRequest(reason: "the push payload has no ref") }
        guard ref == "refs/heads/\(branch)" else {
            return .ignored(delivery: delivery, reason: "a push to \(Self.printable(ref)), not to refs/heads/\(branch)")
        }
        let after = payload["after"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return .accepted(WebhookPush(provider: provider, delivery: delivery, branch: branch, after: after))
    }

    /// Nil when the request carries the right signature (or token); otherwise why not, in words
    /// that quote neither the secret nor what was received.
    private func authenticate(_ provider: WebhookProvider, headers: [(name: String, value: String)], body: [UInt8]) -> String? {
        let names = provider.signatureHeaders
        guard let received = Self.header(names, in: headers)?.trimmingCharacters(in: .whitespaces), !received.isEmpty else {
            return "no \(names.joined(separator: " or ")) header: set the webhook's secret on the git server"
        }
        switch provider {
        case .gitlab:
            return ConstantTime.equal(received.utf8, secret.bytes) ? nil : "the X-Gitlab-Token does not match the webhook secret"
        case .github, .gitea:
            var hex = Substring(received)
            if provider == .github {
                guard hex.hasPrefix("sha256=") else { return "the X-Hub-Signature-256 header does not start with sha256=" }
                hex = hex.dropFirst("sha256=".count)
            }
            guard let signature = ConstantTime.bytes(hex: hex), signature.count == SHA256.byteCount else {
                return "the signature is not a hexadecimal HMAC-SHA256"
            }
            let expected = Array(HMAC<SHA256>.authenticationCode(for: body, using: key))
            return ConstantTime.equalDigests(expected, signature) ? nil : "the signature does not match the body and the webhook secret"
        }
    }

    /// The first of `names` present (case-insensitive).
    static func header(_ names: [String], in headers: [(name: String, value: String)]) -> String? {
        for name in names {
            if let found = headers.first(where: { $0.name.caseInsensitiveCompare(name) == .orderedSame }) { return found.value }
        }
        return nil
    }

    /// The JSON document of a push: the body, or its `payload` field when the server sends a form
    /// (GitHub and Gitea both can).
    static func payload(_ body: [UInt8], contentType: String?) -> JSONValue? {
        var json = body
        if let contentType, contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") {
            let form = String(decoding: body, as: UTF8.self)
            guard
                let field = form.split(separator: "&").first(where: { $0.hasPrefix("payload=") }),
                let decoded = field.dropFirst("payload=".count).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            else { return nil }
            json = Array(decoded.utf8)
        }
        return try? JSONParser.parse(json).value
    }

    /// Text from a request, made safe to put in a reason: at most 100 printable characters.
    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(100).map(Character.init))
    }
}
