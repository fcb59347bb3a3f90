/// The shared secret of the webhooks (`--webhook-secret-file`). Its description never shows it.
public struct WebhookSecret: Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    /// A secret from its bytes; nil when there are none.
    public init?(bytes: [UInt8]) {
        guard !bytes.isEmpty else { return nil }
        self.bytes = bytes
    }

    /// The secret in the file at `path` (a trailing newline ignored; an empty or unreadable file is
    /// an error naming the file).
    public static func load(_ path: String) throws(SecretFileError) -> WebhookSecret {
        WebhookSecret(checked: try SecretFile.read(path))
    }

    private init(checked bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var description: String { "webhook secret (redacted)" }
}
