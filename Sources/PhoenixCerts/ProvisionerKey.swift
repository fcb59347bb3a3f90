import Crypto
import Foundation
import PhoenixCore
import _CryptoExtras

/// A JWK provisioner's signing key, decrypted from the `encryptedKey` Step-CA publishes (a compact
/// JWE: PBES2-HS256+A128KW with the provisioner password, then AES-GCM), and the one-time tokens
/// it signs.
public struct ProvisionerKey: Sendable {
    public let name: String
    public let keyID: String
    let key: P256.Signing.PrivateKey

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// `passwordFile` only names the file in messages; the password itself is never printed.
    public init(name: String, keyID: String, encryptedKey: String, password: [UInt8], passwordFile: String) throws(Failure) {
        self.name = name
        self.keyID = keyID
        let parts = encryptedKey.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, let headerBytes = Base64URL.decode(parts[0]), let header = try? JSONParser.parse(headerBytes).value else {
            throw Failure(description: "provisioner \(name): its encryptedKey is not a compact JWE")
        }
        let algorithm = header["alg"]?.stringValue
        let encryption = header["enc"]?.stringValue
        guard algorithm == "PBES2-HS256+A128KW", encryption == "A256GCM" || encryption == "A128GCM" else {
            throw Failure(
                description:
                    "provisioner \(name): its key is encrypted with \(algorithm ?? "?")/\(encryption ?? "?"), phoenix reads PBES2-HS256+A128KW with AES-GCM")
        }
        guard let saltInput = header["p2s"]?.stringValue.flatMap(Base64URL.decode), case let .number(count)? = header["p2c"], count >= 1000,
            count <= 10_000_000,
            let wrapped = Base64URL.decode(parts[1]), let nonce = Base64URL.decode(parts[2]), let ciphertext = Base64URL.decode(parts[3]),
            let tag = Base64URL.decode(parts[4])
        else {
            throw Failure(description: "provisioner \(name): its encryptedKey is missing the PBES2 salt, count or a JWE part")
        }
        let plaintext: Data
        do {
            let salt = Array("PBES2-HS256+A128KW".utf8) + [0] + saltInput
            let kek = try KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: .sha256, outputByteCount: 16, unsafeUncheckedRounds: Int(count))
            let contentKey = try AES.KeyWrap.unwrap(wrapped, using: kek)
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
            plaintext = try AES.GCM.open(box, using: contentKey, authenticating: Array(parts[0].utf8))
        } catch {
            throw Failure(description: "the password in \(passwordFile) does not decrypt the key of provisioner \(name)")
        }
        guard let jwk = try? JSONParser.parse(Array(plaintext)).value, jwk["kty"]?.stringValue == "EC", jwk["crv"]?.stringValue == "P-256",
            let d = jwk["d"]?.stringValue.flatMap(Base64URL.decode),
            let signing = try? P256.Signing.PrivateKey(rawRepresentation: d)
        else {
            throw Failure(description: "provisioner \(name): its decrypted key is not a P-256 private JWK")
        }
        key = signing
    }

    /// The one-time token for one sign: ES256, `aud` the sign URL, `sha` the root fingerprint, the
    /// SANs asked for, five minutes to live.
    public func token(subject: String, sans: [String], audience: String, rootFingerprint: String, now: Date = Date()) -> String {
        let header = JSONValue.object([("alg", .string("ES256")), ("kid", .string(keyID)), ("typ", .string("JWT"))])
        let issued = Double(Int(now.timeIntervalSince1970))
        let claims = JSONValue.object([
            ("iss", .string(name)), ("aud", .string(audience)), ("sub", .string(subject)), ("sans", .array(sans.map(JSONValue.string))),
            ("iat", .number(issued)), ("nbf", .number(issued)), ("exp", .number(issued + 300)),
            ("jti", .string(UUID().uuidString.lowercased())), ("sha", .string(rootFingerprint)),
        ])
        let writer = JSONWriter(pretty: false)
        let input = Base64URL.encode(Array(writer.string(header).utf8)) + "." + Base64URL.encode(Array(writer.string(claims).utf8))
        let signature = (try? key.signature(for: Array(input.utf8)).rawRepresentation) ?? Data()
        return input + "." + Base64URL.encode(Array(signature))
    }

    /// The provisioner's public key, for tests that check a token's signature.
    public var publicKey: P256.Signing.PublicKey { key.publicKey }
}

/// Base64 with the URL alphabet and no padding (RFC 7515).
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
