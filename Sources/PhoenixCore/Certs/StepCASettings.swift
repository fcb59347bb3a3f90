import Foundation

/// How phoenix reaches Step-CA and when it renews: `step_ca.*` of the hypervisor file (the
/// original's keys) and `phoenix.step_ca.*`, with the original's values as defaults.
public struct StepCASettings: Sendable, Equatable {
    /// The CA's API (`phoenix.step_ca.url`); nil: `https://<address of the CA guest>:9000`. The
    /// original had two different hard-coded URLs; this is the one setting for both.
    public var url: String?
    /// The guest that runs step-ca (`phoenix.step_ca.guest`, the original's CT 103).
    public var guest = 103
    /// `step_ca.dns_name`: the name clients pinning the root use for the CA.
    public var dnsName: String?
    /// `step_ca.provisioner_name`: the JWK provisioner phoenix signs its one-time tokens as.
    public var provisioner = "admin@thinkheads.ai"
    /// The provisioner password file on the host (`phoenix.step_ca.password_file`).
    public var passwordFile = "/mnt/pve/quickOS/lxc-persistent-data/103/ssl/provisioner_password.txt"
    /// The root certificate the CA is pinned by (`phoenix.step_ca.root_file`; default: the trust
    /// stage's source, where the CA guest exports it).
    public var rootFile: String?
    /// Lowercase hex SHA-256 of the root's DER (`phoenix.step_ca.root_fingerprint`): when set, the
    /// root file must have it.
    public var rootFingerprint: String?
    /// When a certificate is renewed (`phoenix.step_ca.renew_before`; default a third of its lifetime
    /// left, as `step ca renew --daemon`).
    public var renewBefore = RenewalWindow.fraction(1.0 / 3.0)
    /// The lifetime asked for (`phoenix.step_ca.lifetime`; the original's 24 h).
    public var lifetime: TimeInterval = 24 * 3600
    /// How long a post-renewal hook may run (`phoenix.step_ca.hook_timeout_seconds`).
    public var hookTimeout: TimeInterval = 120
    /// How long one API call to the CA may take (`phoenix.step_ca.timeout_seconds`).
    public var timeout: TimeInterval = 15

    public init() {}

    /// The CA's URL without a trailing slash, or why there is none.
    public func resolvedURL(in estate: Estate) -> Result<String, CertConfigError> {
        if let url { return .success(url.hasSuffix("/") ? String(url.dropLast()) : url) }
        guard let guest = estate.guest(guest), let address = guest.staticAddress else {
            return .failure(CertConfigError(message: "no Step-CA URL: guest \(guest) has no address; set phoenix.step_ca.url"))
        }
        return .success("https://\(address):9000")
    }
}

public struct CertConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// What it is, typed: Step-CA's refusal of a call, or a state phoenix cannot use (cannot check).
    public let failure: ResourceFailure

    public init(message: String) {
        self.message = message
        failure = .cannotCheck(reason: message)
    }

    /// Step-CA refused or did not answer a call.
    public init(_ error: StepCAError) {
        message = error.description
        failure = .refused(system: "Step-CA", call: error.call, message: error.description)
    }

    public var description: String { message }

    /// As a step's failure: Step-CA's own refusal with its call, else a refusal of `call` with the words.
    public func refusal(of call: String) -> ResourceFailure {
        if case .refused = failure { return failure }
        return .refused(system: "Step-CA", call: call, message: message)
    }
}

/// When a certificate is due: less than a fraction of its lifetime left, or less than a duration.
public enum RenewalWindow: Sendable, Equatable, CustomStringConvertible {
    case fraction(Double)
    case duration(TimeInterval)

    /// The moment a certificate valid from `notBefore` to `notAfter` becomes due.
    public func dueDate(notBefore: Date, notAfter: Date) -> Date {
        switch self {
        case let .fraction(part):
            return notAfter.addingTimeInterval(-notAfter.timeIntervalSince(notBefore) * part)
        case let .duration(seconds):
            return notAfter.addingTimeInterval(-seconds)
        }
    }

    public var description: String {
        switch self {
        case let .fraction(part): return "less than \(Self.trimmed(part * 100))% of its lifetime left"
        case let .duration(seconds): return "less than \(Durations.text(seconds)) left"
        }
    }

    static func trimmed(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(format: "%.1f", value)
    }

    /// `"1/3"`, `"0.33"`, `"33%"` (a fraction) or `"8h"`, `"90m"`, `"1h30m"` (a duration).
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%"), let percent = Double(trimmed.dropLast()), percent > 0, percent < 100 {
            self = .fraction(percent / 100)
        } else if let slash = trimmed.firstIndex(of: "/"), let top = Double(trimmed[..<slash]),
            let bottom = Double(trimmed[trimmed.index(after: slash)...]), bottom > 0, top > 0, top < bottom
        {
            self = .fraction(top / bottom)
        } else if let part = Double(trimmed), part > 0, part < 1 {
            self = .fraction(part)
        } else if let seconds = Durations.parse(trimmed), seconds > 0 {
            self = .duration(seconds)
        } else {
            return nil
        }
    }
}

/// Durations as Step-CA and people write them: `24h`, `90m`, `1h30m`, `45s`, `7d`.
public enum Durations {
    public static func parse(_ text: String) -> TimeInterval? {
        var total: TimeInterval = 0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            let unit: TimeInterval
            switch character {
            case "d": unit = 86400
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: return nil
            }
            guard let value = Double(number) else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return total
    }

    /// `1h30m`, `45s`, `2d3h`: for messages and for Step-CA's `notAfter`.
    public static func text(_ seconds: TimeInterval) -> String {
        var left = Int(seconds.rounded())
        if left <= 0 { return "0s" }
        var parts = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where left >= size {
            parts += "\(left / size)\(unit)"
            left %= size
        }
        return parts
    }

    /// Step-CA's form: hours, minutes and seconds only (`36h`, `90m`, `5s`).
    public static func goText(_ seconds: TimeInterval) -> String {
        var left = Int(seconds.rounded())
        var parts = ""
        for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] where left >= size {
            parts += "\(left / size)\(unit)"
            left %= size
        }
        return parts.isEmpty ? "0s" : parts
    }
}
