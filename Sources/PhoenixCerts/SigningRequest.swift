import Crypto
import Foundation
import PhoenixCore
import SwiftASN1
import X509

/// A new key and the CSR Step-CA signs: made here, the key never leaves this process except into
/// the key file.
public struct SigningRequest: Sendable {
    /// PKCS#8 PEM of the new P-256 key.
    public let keyPEM: String
    public let csrPEM: String

    public init(commonName: String, dnsNames: [String], ipAddresses: [IPAddress]) throws(CertificateReader.Failure) {
        let key = P256.Signing.PrivateKey()
        do {
            let subject = try DistinguishedName { CommonName(commonName) }
            // IP SANs as X.509 encodes them: 4 bytes for IPv4, 16 for IPv6.
            let names: [GeneralName] =
                dnsNames.map { .dnsName($0) } + ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0.bytes))) }
            let extensions = try Certificate.Extensions { SubjectAlternativeNames(names) }
            let attributes = try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))])
            let csr = try CertificateSigningRequest(
                version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key), attributes: attributes, signatureAlgorithm: .ecdsaWithSHA256)
            csrPEM = try csr.serializeAsPEM().pemString
        } catch let failure as CertificateReader.Failure {
            throw failure
        } catch {
            throw CertificateReader.Failure(description: "could not make a certificate request for \(commonName): \(error)")
        }
        keyPEM = key.pemRepresentation + "\n"
    }

}
