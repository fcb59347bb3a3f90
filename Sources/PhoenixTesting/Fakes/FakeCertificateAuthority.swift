import Crypto
import Foundation
import PhoenixCore
import SwiftASN1
import X509
import _CryptoExtras

/// A certificate authority in memory, for the fast tests (the integration suites run a real
/// step-ca): a self-signed P-256 root, a JWK provisioner whose key it publishes encrypted with a
/// password as Step-CA does, signs that check the one-time token (its signature, audience, root
/// fingerprint, subject and names) and renewals that the current certificate's key authorises.
/// Issued leaves are real X.509 certificates (swift-certificates). It counts its calls by name.
public final class FakeCertificateAuthority: CertificateAuthority {
    public struct State: Sendable {
        public var counts: [String: Int] = [:]
        public var unreachable = false
        /// The common names it signed or renewed, in order.
        public var issued: [String] = []
    }

    public let url: String
    /// The root, as the CA guest exports it (PEM), and its SHA-256 fingerprint (hex of the DER).
    public let rootPEM: String
    public let rootFingerprint: String
    public let provisionerName: String
    /// The provisioner's password (what the password file on the host holds).
    public let password: String
    public let world: Guarded<State>
    let root: Certificate
    let rootKey: P256.Signing.PrivateKey
    let provisionerKey = P256.Signing.PrivateKey()
    let keyID: String
    let encryptedKey: String

    public init(
        url: String = "https://ca.lab.example.net:9000", provisioner: String = "phoenix@lab.example.net", password: String = "fake-provisioner-pw"
    ) throws {
        self.url = url
        provisionerName = provisioner
        self.password = password
        rootKey = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Fake Root CA") }
        let now = Date()
        root = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(rootKey.publicKey), notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86400), issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                KeyUsage(keyCertSign: true)
            }, issuerPrivateKey: .init(rootKey))
        rootPEM = try root.serializeAsPEM().pemString + "\n"
        rootFingerprint = try Self.fingerprint(root)
        keyID = Self.base64URL(Array(SHA256.hash(data: provisionerKey.publicKey.rawRepresentation)))
        encryptedKey = try Self.encrypt(provisionerKey, password: password)
        world = Guarded(State())
    }

    // MARK: What tests do to it

    public var issued: [String] { world.value.issued }
    public func setUnreachable(_ unreachable: Bool) { world.withLock { $0.unreachable = unreachable } }

    /// A certificate of this CA made outside the API (no call counted): what an earlier run left
    /// installed. Returns the chain (leaf first) and its new key, as PEM.
    public func certificate(commonName: String, names: [String], from: Date, until: Date) throws -> (chainPEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(commonName) }
        let issued = try issue(subject: subject, key: .init(key.publicKey), names: names, from: from, until: until)
        return (issued.chainPEM, key.pemRepresentation + "\n")
    }

    // MARK: The port

    public var counts: [String: Int] { world.value.counts }

    private func call(_ name: String, _ label: String) throws(StepCAError) {
        let unreachable = world.withLock { state in
            state.counts[name, default: 0] += 1
            return state.unreachable
        }
        if unreachable { throw StepCAError(kind: .unreachable, call: label, url: url, reason: "connection refused") }
    }

    private func refuse(_ label: String, _ status: Int, _ reason: String) -> StepCAError {
        StepCAError(kind: .api(status: status), call: label, url: url, reason: "HTTP \(status): \(reason)")
    }

    public func roots() async throws(StepCAError) -> [String] {
        try call("roots", "GET /roots")
        return [rootPEM]
    }

    public func provisioner(named name: String) async throws(StepCAError) -> (keyID: String, encryptedKey: String) {
        try call("provisioners", "GET /provisioners")
        guard name == provisionerName else { throw refuse("GET /provisioners", 404, "the CA has no provisioner named \(name)") }
        return (keyID, encryptedKey)
    }

    public func sign(csrPEM: String, token: String, lifetime: TimeInterval) async throws(StepCAError) -> IssuedCertificate {
        let label = "POST /1.0/sign"
        try call("sign", label)
        let claims: JSONValue
        do { claims = try verified(token) } catch { throw refuse(label, 401, "\(error)") }
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pemEncoded: csrPEM) } catch { throw refuse(label, 400, "the CSR cannot be read") }
        let subject = claims["sub"]?.stringValue ?? ""
        guard Self.commonName(csr.subject) == subject else { throw refuse(label, 401, "the token's subject is not the CSR's common name") }
        let names = (claims["sans"]?.arrayItems ?? []).compactMap(\.stringValue)
        do {
            let leaf = try issue(subject: csr.subject, key: csr.publicKey, names: names, lifetime: lifetime)
            world.withLock { $0.issued.append(subject) }
            return leaf
        } catch {
            throw refuse(label, 500, "\(error)")
        }
    }

    public func renew(chainPEM: String, keyPEM: String) async throws(StepCAError) -> IssuedCertificate {
        let label = "POST /1.0/renew"
        try call("renew", label)
        // The leaf (the chain's first certificate) and its key are what the TLS handshake presents.
        guard let first = try? PEMDocument.parseMultiple(pemString: chainPEM).first, let leaf = try? Certificate(derEncoded: first.derBytes),
            let key = try? Certificate.PrivateKey(pemEncoded: keyPEM)
        else {
            throw StepCAError(kind: .tls, call: label, url: url, reason: "the client certificate or key cannot be read")
        }
        guard key.publicKey == leaf.publicKey, root.publicKey.isValidSignature(leaf.signature, for: leaf), leaf.notValidAfter > Date() else {
            throw StepCAError(kind: .tls, call: label, url: url, reason: "the CA does not accept this client certificate")
        }
        var names: [String] = []
        if let sans = try? leaf.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case let .dnsName(text): names.append(text)
                case let .ipAddress(bytes): if let address = IPAddress(bytes: bytes.bytes) { names.append(address.description) }
                default: continue
                }
            }
        }
        do {
            let renewed = try issue(
                subject: leaf.subject, key: leaf.publicKey, names: names, lifetime: leaf.notValidAfter.timeIntervalSince(leaf.notValidBefore) - 60)
            world.withLock { $0.issued.append(Self.commonName(leaf.subject) ?? "") }
            return renewed
        } catch {
            throw refuse(label, 500, "\(error)")
        }
    }

    public func shutdown() async {}

    // MARK: Inside the CA

    struct TokenFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// The token's claims once its signature, audience, root fingerprint and lifetime hold.
    func verified(_ token: String) throws(TokenFailure) -> JSONValue {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let header = Self.json(parts[0]), let claims = Self.json(parts[1]), let signature = Self.bytes(parts[2]),
            let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        else { throw TokenFailure(description: "the token is not a JWT") }
        guard header["alg"]?.stringValue == "ES256", header["kid"]?.stringValue == keyID,
            provisionerKey.publicKey.isValidSignature(ecdsa, for: Array((parts[0] + "." + parts[1]).utf8))
        else { throw TokenFailure(description: "the token is not signed by provisioner \(provisionerName)") }
        guard claims["aud"]?.stringValue == url + "/1.0/sign" else { throw TokenFailure(description: "the token's audience is not this CA") }
        guard claims["sha"]?.stringValue == rootFingerprint else { throw TokenFailure(description: "the token names another root") }
        guard let expiry = claims["exp"]?.intValue, Double(expiry) > Date().timeIntervalSince1970 else {
            throw TokenFailure(description: "the token has expired")
        }
        return claims
    }

    func issue(subject: DistinguishedName, key: Certificate.PublicKey, names: [String], lifetime: TimeInterval) throws -> IssuedCertificate {
        let now = Date()
        return try issue(subject: subject, key: key, names: names, from: now.addingTimeInterval(-60), until: now.addingTimeInterval(lifetime))
    }

    func issue(subject: DistinguishedName, key: Certificate.PublicKey, names: [String], from: Date, until: Date) throws -> IssuedCertificate {
        let general: [GeneralName] = names.map { name in
            IPAddress(name).map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0.bytes))) } ?? .dnsName(name)
        }
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key, notValidBefore: from, notValidAfter: until, issuer: root.subject,
            subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames(general)
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
            }, issuerPrivateKey: .init(rootKey))
        return IssuedCertificate(chainPEM: try leaf.serializeAsPEM().pemString + "\n" + rootPEM, caPEM: rootPEM)
    }

    static func commonName(_ name: DistinguishedName) -> String? {
        for rdn in name {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let text = String(attribute.value) { return text }
            }
        }
        return nil
    }

    static func fingerprint(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// The provisioner's key as a compact JWE (PBES2-HS256+A128KW, A256GCM), as Step-CA publishes it.
    static func encrypt(_ key: P256.Signing.PrivateKey, password: String) throws -> String {
        let raw = key.publicKey.rawRepresentation
        let jwk = JSONValue.object([
            ("kty", .string("EC")), ("crv", .string("P-256")), ("x", .string(base64URL(Array(raw.prefix(32))))),
            ("y", .string(base64URL(Array(raw.suffix(32))))), ("d", .string(base64URL(Array(key.rawRepresentation)))),
        ])
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let header = JSONValue.object([
            ("alg", .string("PBES2-HS256+A128KW")), ("enc", .string("A256GCM")), ("cty", .string("jwk+json")), ("p2c", .number(1000)),
            ("p2s", .string(base64URL(salt))),
        ])
        let protected = base64URL(Array(JSONWriter(pretty: false).string(header).utf8))
        let kek = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: Array("PBES2-HS256+A128KW".utf8) + [0] + salt, using: .sha256, outputByteCount: 16,
            unsafeUncheckedRounds: 1000)
        let contentKey = SymmetricKey(size: .bits256)
        let wrapped = try AES.KeyWrap.wrap(contentKey, using: kek)
        let box = try AES.GCM.seal(Array(JSONWriter(pretty: false).string(jwk).utf8), using: contentKey, authenticating: Array(protected.utf8))
        return [protected, base64URL(Array(wrapped)), base64URL(Array(box.nonce)), base64URL(Array(box.ciphertext)), base64URL(Array(box.tag))]
            .joined(separator: ".")
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func bytes(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64).map(Array.init)
    }

    static func json(_ part: String) -> JSONValue? { bytes(part).flatMap { try? JSONParser.parse($0).value } }
}
