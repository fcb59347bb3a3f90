import PhoenixCore

/// Text from elsewhere (a server's answer, a transport error) made fit for a log line: every
/// occurrence of a secret replaced, control characters dropped, at most `limit` characters.
enum Redaction {
    static func clean(_ text: String, hiding secrets: [String], limit: Int = 200) -> String {
        var text = text
        for secret in secrets.filter({ $0.count >= 4 }).sorted(by: { $0.count > $1.count }) {
            text = text.replacing(secret, with: "[redacted]")
        }
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        return printable.count <= limit ? printable : String(printable.prefix(limit - 1)) + "…"
    }

    /// Why a request got no good answer, in words safe to log.
    static func failure(_ error: HTTPTransportError, hiding secrets: [String]) -> String {
        switch error {
        case let .tls(message): return "TLS failed: " + clean(message, hiding: secrets)
        case let .unreachable(message): return "unreachable: " + clean(message, hiding: secrets)
        }
    }

    static func failure(_ response: HTTPResponseMessage, hiding secrets: [String]) -> String {
        let body = clean(String(decoding: response.body, as: UTF8.self), hiding: secrets)
        return "HTTP \(response.status)" + (body.isEmpty ? "" : ": \(body)")
    }

    /// Whether a request that got `status` is worth sending again.
    static func isRetryable(_ status: Int) -> Bool { status >= 500 || status == 429 || status == 408 }
}
