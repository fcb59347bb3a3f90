import Foundation

/// The certificate authority as the certificates' kind uses it (Step-CA's API): its roots, the JWK
/// provisioner whose key signs the one-time tokens, a sign with such a token, and a renewal that
/// the current certificate authenticates. PhoenixCerts' `StepCAClient` is the live adapter;
/// PhoenixTesting's `FakeCertificateAuthority` signs in memory.
public protocol CertificateAuthority: Sendable {
    /// The CA's URL: a one-time token's audience is `<url>/1.0/sign`.
    var url: String { get }
    /// The CA's roots (PEM).
    func roots() async throws(StepCAError) -> [String]
    /// The JWK provisioner `name`: its key id and its private key as the CA publishes it, encrypted.
    func provisioner(named name: String) async throws(StepCAError) -> (keyID: String, encryptedKey: String)
    /// Signs `csrPEM`, authorised by the one-time `token`, for `lifetime`.
    func sign(csrPEM: String, token: String, lifetime: TimeInterval) async throws(StepCAError) -> IssuedCertificate
    /// Renews the still-valid certificate `chainPEM` (its key `keyPEM` authenticates the call; it
    /// is never sent): the same key and names, a new validity of the same length.
    func renew(chainPEM: String, keyPEM: String) async throws(StepCAError) -> IssuedCertificate
    /// Calls made so far, by name (`sign`, `renew`, `roots`, `provisioners`).
    var counts: [String: Int] { get async }
    /// Ends its connections.
    func shutdown() async
}

/// A failed call to the CA: the call, the CA and why, in words (never a token or a key).
public struct StepCAError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case unreachable, tls
        case api(status: Int)
        case malformed
    }

    public let kind: Kind
    public let call: String
    public let url: String
    public let reason: String

    public init(kind: Kind, call: String, url: String, reason: String) {
        self.kind = kind
        self.call = call
        self.url = url
        self.reason = reason
    }

    public var description: String { "Step-CA \(url): \(call) failed: \(reason)" }
}

/// What the CA issued: the leaf first, then its issuers (the file phoenix installs), and the
/// issuing CA's certificate.
public struct IssuedCertificate: Sendable {
    public let chainPEM: String
    public let caPEM: String

    public init(chainPEM: String, caPEM: String) {
        self.chainPEM = chainPEM
        self.caPEM = caPEM
    }
}
