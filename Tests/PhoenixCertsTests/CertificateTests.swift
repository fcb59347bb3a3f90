import Crypto
import Foundation
import PhoenixCore
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import PhoenixCerts

@Suite("Certificates: CSR, facts, provisioner key, one-time token")
struct CertificateTests {
    @Test("a signing request carries the common name, DNS and IP names, and its key matches")
    func signingRequest() throws {
        let addresses = try ["10.0.0.7", "::1", "FD00::A:5"].map { try #require(IPAddress($0)) }
        let request = try SigningRequest(commonName: "app.lab.test", dnsNames: ["app.lab.test", "*.lab.test"], ipAddresses: addresses)
        let csr = try CertificateSigningRequest(pemEncoded: request.csrPEM)
        #expect(CertificateReader.commonName(csr.subject) == "app.lab.test")
        let extensions = try #require(try csr.attributes.extensionRequest).extensions
        let names = try #require(try extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("*.lab.test")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 7]))))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))), "IPv6 as 16 bytes")
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0, 5]))))
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        let key = try CertificateReader.privateKey(request.keyPEM)
        #expect(key.publicKey == csr.publicKey)
        #expect(request.keyPEM.contains("BEGIN PRIVATE KEY"))
        #expect(!request.csrPEM.contains("PRIVATE"))
    }

    @Test("facts of a self-made certificate: names apart, serial, fingerprint, key match and chain")
    func facts() throws {
        let caKey = P256.Signing.PrivateKey()
        let leafKey = P256.Signing.PrivateKey()
        let root = try Self.certificate(subject: "Lab Root", issuer: "Lab Root", key: caKey.publicKey, signer: caKey, names: [])
        let leaf = try Self.certificate(
            subject: "app.lab.test", issuer: "Lab Root", key: leafKey.publicKey, signer: caKey,
            names: [
                .dnsName("App.Lab.Test"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5])),
                .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 0, 0, 9])),
            ])
        let pem = try leaf.serializeAsPEM().pemString
        let facts = try CertificateReader.facts(certificatePEM: pem, keyPEM: leafKey.pemRepresentation, root: root)
        #expect(facts.commonName == "app.lab.test")
        #expect(facts.dnsNames == ["app.lab.test"])
        // IPv4 and IPv6 in one typed set; the IPv4-mapped address is its IPv4 address.
        #expect(facts.ipAddresses == Set(["127.0.0.1", "fd00::5", "10.0.0.9"].compactMap { IPAddress($0) }))
        #expect(facts.ipAddresses.count == 3)
        #expect(facts.keyMatches == true)
        #expect(facts.chainsToRoot == true)
        #expect(facts.fingerprint.count == 64)
        #expect(facts.serial == "0102ff")
        let other = try CertificateReader.facts(certificatePEM: pem, keyPEM: P256.Signing.PrivateKey().pemRepresentation, root: leaf)
        #expect(other.keyMatches == false)
        #expect(other.chainsToRoot == false)
        #expect(throws: CertificateReader.Failure.self) { try CertificateReader.facts(certificatePEM: "garbage", keyPEM: nil, root: nil) }
    }

    @Test("the provisioner key decrypts with its password; a wrong one names the file, never the password")
    func provisionerKey() throws {
        let signing = P256.Signing.PrivateKey()
        let jwe = try Self.encryptedJWK(signing, password: "correct horse")
        let key = try ProvisionerKey(
            name: "phoenix", keyID: "kid-1", encryptedKey: jwe, password: Array("correct horse".utf8), passwordFile: "/ca/password.txt")
        #expect(key.publicKey.rawRepresentation == signing.publicKey.rawRepresentation)
        do {
            _ = try ProvisionerKey(name: "phoenix", keyID: "kid-1", encryptedKey: jwe, password: Array("wrong guess".utf8), passwordFile: "/ca/password.txt")
            Issue.record("a wrong password decrypted the key")
        } catch {
            #expect(error.description.contains("/ca/password.txt"))
            #expect(!error.description.contains("wrong guess"))
        }
    }

    @Test("the one-time token is an ES256 JWT the provisioner key verifies, with aud, sha and sans")
    func token() throws {
        let signing = P256.Signing.PrivateKey()
        let key = try ProvisionerKey(
            name: "phoenix", keyID: "kid-1", encryptedKey: try Self.encryptedJWK(signing, password: "pw"), password: Array("pw".utf8), passwordFile: "f")
        let token = key.token(subject: "app.lab.test", sans: ["app.lab.test", "10.0.0.7"], audience: "https://ca:9000/1.0/sign", rootFingerprint: "ab")
        let parts = token.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        let header = try JSONParser.parse(try #require(Base64URL.decode(parts[0]))).value
        #expect(header["alg"]?.stringValue == "ES256")
        #expect(header["kid"]?.stringValue == "kid-1")
        let claims = try JSONParser.parse(try #require(Base64URL.decode(parts[1]))).value
        #expect(claims["aud"]?.stringValue == "https://ca:9000/1.0/sign")
        #expect(claims["sha"]?.stringValue == "ab")
        #expect(claims["iss"]?.stringValue == "phoenix")
        #expect(claims["sans"] == .array([.string("app.lab.test"), .string("10.0.0.7")]))
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: try #require(Base64URL.decode(parts[2])))
        #expect(signing.publicKey.isValidSignature(signature, for: Array((parts[0] + "." + parts[1]).utf8)))
    }

    // MARK: Fixtures

    static func certificate(
        subject: String, issuer: String, key: P256.Signing.PublicKey, signer: P256.Signing.PrivateKey, names: [GeneralName]
    ) throws -> Certificate {
        let now = Date()
        let extensions = try Certificate.Extensions {
            if !names.isEmpty { SubjectAlternativeNames(names) }
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [1, 2, 255]), publicKey: .init(key),
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(3600),
            issuer: try DistinguishedName { CommonName(issuer) }, subject: try DistinguishedName { CommonName(subject) },
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(signer))
    }

    /// A JWE as go.step.sm/crypto/jose writes one (PBES2-HS256+A128KW, A256GCM); the integration
    /// tests use one made by an independent implementation (joserfc).
    static func encryptedJWK(_ key: P256.Signing.PrivateKey, password: String) throws -> String {
        let raw = key.publicKey.rawRepresentation
        let jwk = JSONValue.object([
            ("kty", .string("EC")), ("crv", .string("P-256")), ("x", .string(Base64URL.encode(Array(raw.prefix(32))))),
            ("y", .string(Base64URL.encode(Array(raw.suffix(32))))), ("d", .string(Base64URL.encode(Array(key.rawRepresentation)))),
        ])
        let saltInput = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let header = JSONValue.object([
            ("alg", .string("PBES2-HS256+A128KW")), ("enc", .string("A256GCM")), ("cty", .string("jwk+json")), ("p2c", .number(1000)),
            ("p2s", .string(Base64URL.encode(saltInput))),
        ])
        let protected = Base64URL.encode(Array(JSONWriter(pretty: false).string(header).utf8))
        let kek = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: Array("PBES2-HS256+A128KW".utf8) + [0] + saltInput, using: .sha256, outputByteCount: 16,
            unsafeUncheckedRounds: 1000)
        let contentKey = SymmetricKey(size: .bits256)
        let wrapped = try AES.KeyWrap.wrap(contentKey, using: kek)
        let box = try AES.GCM.seal(Array(JSONWriter(pretty: false).string(jwk).utf8), using: contentKey, authenticating: Array(protected.utf8))
        return [
            protected, Base64URL.encode(Array(wrapped)), Base64URL.encode(Array(box.nonce)), Base64URL.encode(Array(box.ciphertext)),
            Base64URL.encode(Array(box.tag)),
        ].joined(separator: ".")
    }
}
