import Crypto

/// Signatures and hashes as a git server and an operator compute them, for the agent's tests (built
/// here, independently of the agent's own verification code).
public enum WebhookSigning {
    /// Lower-case hex of the HMAC-SHA256 of `body` under `secret`, as GitHub, Gitea, Forgejo and
    /// Gogs sign a delivery.
    public static func hmacSHA256Hex(secret: String, body: [UInt8]) -> String {
        hex(Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))))
    }

    /// Lower-case hex of the SHA-256 of `text`, as `sha256sum` prints it for a tokens file.
    public static func sha256Hex(_ text: String) -> String { hex(Array(SHA256.hash(data: Array(text.utf8)))) }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
