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

    public init(commonName: String, dnsNames: [String], ipAddresses: [String]) throws(CertificateReader.Failure) {
        let key = P256.Signing.PrivateKey()
        do {
            let subject = try DistinguishedName { CommonName(commonName) }
            var names: [GeneralName] = dnsNames.map { .dnsName($0) }
            for address in ipAddresses {
                guard let bytes = Self.addressBytes(address) else { throw CertificateReader.Failure(description: "\(address) is not an IP address") }
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
            }
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

    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
