import Foundation

/// What an installed certificate says about itself, as PhoenixCerts reads it from the PEM (the core
/// decides with these facts and never parses X.509 itself).
public struct CertificateFacts: Sendable, Equatable {
    public var commonName: String?
    /// Lowercased DNS names of the subject alternative names.
    public var dnsNames: Set<String>
    /// IP addresses of the subject alternative names, IPv4 and IPv6 in one set (an IPv4-mapped
    /// IPv6 address is its IPv4 address).
    public var ipAddresses: Set<IPAddress>
    /// Hex, as `openssl x509 -serial` shows it (lowercase).
    public var serial: String
    public var notBefore: Date
    public var notAfter: Date
    /// The issuer's distinguished name, for people.
    public var issuer: String
    /// Lowercase hex SHA-256 of the leaf's DER: what a served certificate is compared by.
    public var fingerprint: String
    /// Whether the key file holds the certificate's private key (nil: no key was read).
    public var keyMatches: Bool?
    /// Whether the certificate chains to the pinned root through the issuer in the file (nil: no
    /// root to check against).
    public var chainsToRoot: Bool?

    public init(
        commonName: String?, dnsNames: Set<String>, ipAddresses: Set<IPAddress>, serial: String, notBefore: Date, notAfter: Date, issuer: String,
        fingerprint: String, keyMatches: Bool? = nil, chainsToRoot: Bool? = nil
    ) {
        self.commonName = commonName
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.serial = serial
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.issuer = issuer
        self.fingerprint = fingerprint
        self.keyMatches = keyMatches
        self.chainsToRoot = chainsToRoot
    }
}

/// Where a certificate stands and what the certs stage does about it.
public struct CertAssessment: Sendable, Equatable {
    public enum State: String, Sendable {
        case valid
        case renewDue = "renew-due"
        case expired, missing, mismatch
    }

    /// `renew`: `/1.0/renew` with the current certificate (still valid, same key and names);
    /// `sign`: a new key and a one-time-token sign.
    public enum Action: String, Sendable {
        case none, renew, sign
    }

    public var state: State
    public var reasons: [String]
    public var action: Action

    /// Decides for `request` given what is installed on the host (`facts`, nil: no certificate),
    /// at `now`. `force` renews a valid certificate anyway.
    public static func assess(
        _ request: CertificateRequest, facts: CertificateFacts?, unreadable: String? = nil, window: RenewalWindow, now: Date, force: Bool = false
    ) -> CertAssessment {
        if let unreadable { return CertAssessment(state: .mismatch, reasons: [unreadable], action: .sign) }
        guard let facts else { return CertAssessment(state: .missing, reasons: ["no certificate at \(request.certPath)"], action: .sign) }
        var mismatches: [String] = []
        if facts.keyMatches == false { mismatches.append("the key at \(request.keyPath) is not the certificate's key") }
        if facts.keyMatches == nil { mismatches.append("no private key at \(request.keyPath)") }
        let wantDNS = Set(request.dnsNames.map { $0.text.lowercased() })
        // Typed and normalised on both sides: "0:0::1" in the manifest is the "::1" a certificate holds.
        let wantIP = Set(request.ipAddresses)
        if facts.dnsNames != wantDNS { mismatches.append("DNS names " + Self.difference(have: facts.dnsNames, want: wantDNS)) }
        if facts.ipAddresses != wantIP { mismatches.append("IP addresses " + Self.difference(have: facts.ipAddresses, want: wantIP)) }
        if let name = facts.commonName, name.lowercased() != request.commonName.lowercased() {
            mismatches.append("common name \(name), configured \(request.commonName)")
        }
        if facts.chainsToRoot == false { mismatches.append("issued by \(facts.issuer), which does not chain to the CA's root") }
        if !mismatches.isEmpty { return CertAssessment(state: .mismatch, reasons: mismatches, action: .sign) }
        if now >= facts.notAfter {
            return CertAssessment(state: .expired, reasons: ["expired \(Durations.text(now.timeIntervalSince(facts.notAfter))) ago"], action: .sign)
        }
        let due = window.dueDate(notBefore: facts.notBefore, notAfter: facts.notAfter)
        if now >= due {
            return CertAssessment(
                state: .renewDue, reasons: ["\(Durations.text(facts.notAfter.timeIntervalSince(now))) left; due with \(window)"], action: .renew)
        }
        if force { return CertAssessment(state: .valid, reasons: ["renewal forced (--force)"], action: .renew) }
        return CertAssessment(state: .valid, reasons: [], action: .none)
    }

    /// `+a.example -b.example`: what the configuration adds and drops, in order.
    static func difference<Name: Comparable & Hashable & CustomStringConvertible>(have: Set<Name>, want: Set<Name>) -> String {
        let added = want.subtracting(have).sorted().map { "+\($0)" }
        let removed = have.subtracting(want).sorted().map { "-\($0)" }
        return (added + removed).joined(separator: " ")
    }
}
