import Crypto
import Foundation
import PhoenixCore
import PhoenixHTTP
import SwiftASN1
import X509

/// Reads PEM certificates and keys into the facts the certs stage decides with.
public enum CertificateReader {
    /// Why a PEM could not be read: names what was expected, never the contents.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Every certificate of a PEM bundle, leaf first as Step-CA writes them.
    public static func certificates(_ pem: String) throws(Failure) -> [Certificate] {
        do {
            let documents = try PEMDocument.parseMultiple(pemString: pem).filter { $0.discriminator == "CERTIFICATE" }
            guard !documents.isEmpty else { throw Failure(description: "no PEM certificate in it") }
            return try documents.map { try Certificate(derEncoded: $0.derBytes) }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "not a PEM certificate (\(type(of: error)))")
        }
    }

    /// The private key of a PEM file (PKCS#8 or SEC1).
    public static func privateKey(_ pem: String) throws(Failure) -> Certificate.PrivateKey {
        do {
            return try Certificate.PrivateKey(pemEncoded: pem)
        } catch {
            throw Failure(description: "not a PEM private key")
        }
    }

    /// Lowercase hex SHA-256 of the certificate's DER.
    public static func fingerprint(_ certificate: Certificate) -> String {
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else { return "" }
        return hex(SHA256.hash(data: serializer.serializedBytes))
    }

    /// The facts of the leaf of `certificatePEM`: the key checked against `keyPEM` when given, the
    /// chain against `root` when given.
    public static func facts(certificatePEM: String, keyPEM: String?, root: Certificate?) throws(Failure) -> CertificateFacts {
        let chain = try certificates(certificatePEM)
        let leaf = chain[0]
        var dnsNames = Set<String>()
        var addresses = Set<IPAddress>()
        if let names = try? leaf.extensions.subjectAlternativeNames {
            for name in names {
                switch name {
                case let .dnsName(text): dnsNames.insert(text.lowercased())
                case let .ipAddress(bytes): if let address = IPAddress(bytes: bytes.bytes) { addresses.insert(address) }
                default: break
                }
            }
        }
        var keyMatches: Bool?
        if let keyPEM { keyMatches = (try? privateKey(keyPEM)).map { $0.publicKey == leaf.publicKey } ?? false }
        var chainsToRoot: Bool?
        if let root {
            let issuer = chain.count > 1 ? chain[1] : root
            let leafSigned = issuer.publicKey.isValidSignature(leaf.signature, for: leaf)
            let issuerSigned = chain.count > 1 ? root.publicKey.isValidSignature(issuer.signature, for: issuer) : true
            chainsToRoot = leafSigned && issuerSigned
        }
        return CertificateFacts(
            commonName: commonName(leaf.subject), dnsNames: dnsNames, ipAddresses: addresses, serial: hex(leaf.serialNumber.bytes),
            notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter, issuer: String(describing: leaf.issuer), fingerprint: fingerprint(leaf),
            keyMatches: keyMatches, chainsToRoot: chainsToRoot)
    }

    static func commonName(_ name: DistinguishedName) -> String? {
        for rdn in name {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let text = String(attribute.value) { return text }
            }
        }
        return nil
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// What a TLS endpoint serves now, by fingerprint.
public enum ServedFingerprint {
    /// The lowercase hex SHA-256 of the leaf `endpoint` presents, or why it could not be read.
    public static func read(_ endpoint: CertEndpoint, timeout: Double) async -> Result<String, CertConfigError> {
        do throws(HTTPTransportError) {
            let der = try await ServedCertificate.leafDER(host: endpoint.host, port: endpoint.port, serverName: endpoint.serverName, timeout: timeout)
            return .success(CertificateReader.hex(SHA256.hash(data: der)))
        } catch {
            let reason: String
            switch error {
            case let .tls(text), let .unreachable(text): reason = text
            }
            return .failure(CertConfigError(message: "\(endpoint): \(reason)"))
        }
    }
}
