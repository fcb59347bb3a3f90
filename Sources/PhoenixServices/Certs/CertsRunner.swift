import Foundation
import PhoenixCerts
import PhoenixCore
import PhoenixEngine

/// The certificates, for the printers.
public struct CertsReport: KindReport {
    public let kind = CertKind().name
    public let report: CertConvergence.Report
    public let applied: Bool
    public var results: [ResourceResult] = []
    /// Why the certificates could not be planned at all (the kind's observation failed).
    public var failure: ResourceFailure?
    public var hasChanges: Bool { report.items.contains { $0.needsChange } || report.error != nil || !report.refused.isEmpty }

    public var summary: String? {
        if let error { return "certs: \(error)" }
        let changed = report.items.filter { $0.outcome != .unchanged && $0.failure == nil }
        guard !changed.isEmpty || !failures.isEmpty else { return nil }
        return "certs: \(changed.count) changed, \(failures.count) failed"
    }

    /// A manifest entry left out for its own errors, as a failed resource.
    func refusedJSON(_ entry: RefusedCertificate) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("resource", .string(entry.resourceID)), ("kind", .string(kind)), ("state", .string("invalid")), ("action", .string("none")),
            ("changes", .array([])),
        ]
        if applied { members.append(("status", .string("failed"))) }
        members.append(("error", .string(entry.reason)))
        return .object(members)
    }

    public var json: (key: String, value: JSONValue)? {
        let refused = report.refused.map(refusedJSON)
        if let error {
            return refused.isEmpty ? ("certs_error", .string(error)) : ("certs", .object([("error", .string(error)), ("resources", .array(refused))]))
        }
        if let reason = report.notReady {
            var members: [(key: String, value: JSONValue)] = [("not_applied", .string(reason))]
            if !refused.isEmpty { members.append(("resources", .array(refused))) }
            return ("certs", .object(members))
        }
        let items: [JSONValue] = report.items.map { item in
            var members: [(key: String, value: JSONValue)] = [
                ("resource", .string(item.id)), ("kind", .string(kind)), ("state", .string(item.assessment.state.rawValue)),
                ("action", .string(item.assessment.action.rawValue)), ("changes", .array(item.lines.map(JSONValue.string))),
            ]
            if applied { members.append(("status", .string(item.failure != nil ? "failed" : item.outcome.rawValue))) }
            if let fingerprint = item.newFingerprint, item.failure == nil { members.append(("fingerprint", .string(fingerprint))) }
            if let failure = item.failure { members.append(("error", .string(failure))) }
            return .object(members)
        }
        let calls = report.calls.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.number(Double($0.value))) }
        return ("certs", .object([("calls", .object(calls)), ("resources", .array(items + refused))]))
    }

    public func lines(verbose: Bool) -> [String] {
        let refused = report.refused.map { entry in
            "certs: \(entry.resourceID): \(applied ? "failed" : "cannot converge"): \(TextRules.printable(entry.reason, limit: 800))"
        }
        if let error { return refused + ["certs: failed: \(TextRules.printable(error, limit: 1200))"] }
        if let reason = report.notReady { return refused + ["certs: not applied: \(reason)"] }
        var lines: [String] = []
        for item in report.items {
            if let failure = item.failure {
                lines.append("certs: \(item.id): \(applied ? "failed" : "cannot converge"): \(TextRules.printable(failure, limit: 800))")
            } else if !item.needsChange {
                if verbose { lines.append("certs: \(item.id): as configured") }
            } else {
                let marker = applied ? "done: " : "~ "
                lines += item.lines.map { "certs: \(item.id): \(marker)\(TextRules.printable($0, limit: 400))" }
            }
        }
        if lines.isEmpty && !report.items.isEmpty {
            let signs = report.calls["sign", default: 0] + report.calls["renew", default: 0]
            lines.append("certs: \(report.items.count) certificates as configured (\(signs) issued)")
        }
        return refused + lines
    }
}

/// `phoenix certs status`: every entry of the manifest as installed, where it is served, and its
/// state. Issues nothing.
public struct CertsStatus: Sendable {
    /// What one endpoint serves now.
    public struct Served: Sendable {
        public var at: String
        public var what: String
        public var fingerprint: String?
        public var matches: Bool?
        public var error: String?

        public init(at: String, what: String, fingerprint: String? = nil, matches: Bool? = nil, error: String? = nil) {
            self.at = at
            self.what = what
            self.fingerprint = fingerprint
            self.matches = matches
            self.error = error
        }
    }

    /// One installed copy: where, and its owner and mode as read beside those configured.
    public struct Copy: Sendable {
        public var machine: String
        public var path: String
        public var role: String
        public var present: Bool
        public var owner: String?
        public var group: String?
        public var mode: String?
        public var configured: String
        public var error: String?

        public init(
            machine: String, path: String, role: String, present: Bool, owner: String? = nil, group: String? = nil, mode: String? = nil, configured: String,
            error: String? = nil
        ) {
            self.machine = machine
            self.path = path
            self.role = role
            self.present = present
            self.owner = owner
            self.group = group
            self.mode = mode
            self.configured = configured
            self.error = error
        }
    }

    public struct Certificate: Sendable {
        public var name: String
        public var commonName: String
        public var dnsNames: [String]
        public var ipAddresses: [String]
        /// Nil when nothing is installed (or the entry is refused).
        public var facts: CertificateFacts?
        public var secondsLeft: Int?
        /// `valid`, `renew due`, `expired`, `missing`, `mismatch`, or `invalid` (a refused entry).
        public var state: String
        public var reasons: [String]
        public var installed: [Copy]
        /// Why phoenix cannot tell where it is served, when it cannot.
        public var servingProblem: String?
        /// The endpoints that present it, as read now (nil: none known; a refused entry).
        public var served: [Served]?

        public init(
            name: String, commonName: String, dnsNames: [String], ipAddresses: [String], facts: CertificateFacts? = nil, secondsLeft: Int? = nil, state: String,
            reasons: [String], installed: [Copy], servingProblem: String? = nil, served: [Served]? = nil
        ) {
            self.name = name
            self.commonName = commonName
            self.dnsNames = dnsNames
            self.ipAddresses = ipAddresses
            self.facts = facts
            self.secondsLeft = secondsLeft
            self.state = state
            self.reasons = reasons
            self.installed = installed
            self.servingProblem = servingProblem
            self.served = served
        }
    }

    public var certificates: [Certificate]

    public init(certificates: [Certificate]) { self.certificates = certificates }

    /// `report`'s certificates named in `names` (all when empty), each endpoint read now (one
    /// handshake each, side by side).
    public static func read(_ report: CertConvergence.Report, names: Set<String>, now: Date, timeout: Double) async -> CertsStatus {
        let wanted = report.items.filter { names.isEmpty || names.contains($0.request.commonName) }
        let served = await withTaskGroup(of: (String, Int, Served).self) { group -> [String: [Served]] in
            for item in wanted {
                for (index, endpoint) in item.endpoints.enumerated() {
                    let installed = item.facts?.fingerprint
                    group.addTask {
                        var entry = Served(at: "\(endpoint.host):\(endpoint.port)", what: endpoint.what)
                        switch await ServedFingerprint.read(endpoint, timeout: timeout) {
                        case let .success(fingerprint):
                            entry.fingerprint = fingerprint
                            entry.matches = fingerprint == installed
                        case let .failure(error): entry.error = error.message
                        }
                        return (item.id, index, entry)
                    }
                }
            }
            var served: [String: [(Int, Served)]] = [:]
            for await (id, index, entry) in group { served[id, default: []].append((index, entry)) }
            return served.mapValues { $0.sorted { $0.0 < $1.0 }.map(\.1) }
        }
        var certificates = wanted.map { item in
            Certificate(
                name: item.id, commonName: item.request.commonName,
                dnsNames: item.facts.map { $0.dnsNames.sorted() } ?? item.request.dnsNames.map(\.text),
                ipAddresses: item.facts.map { $0.ipAddresses.sorted().map(\.description) } ?? item.request.ipAddresses.map(\.description), facts: item.facts,
                secondsLeft: item.facts.map { Int($0.notAfter.timeIntervalSince(now)) }, state: item.assessment.state.rawValue,
                reasons: item.assessment.reasons + item.handChanges,
                installed: item.copies.map { copy in
                    Copy(
                        machine: copy.machine, path: copy.path, role: copy.role.rawValue, present: copy.found != nil, owner: copy.found?.owner,
                        group: copy.found?.group, mode: copy.found?.mode, configured: "\(copy.owner):\(copy.group) \(copy.mode)", error: copy.error)
                }, servingProblem: item.servingProblem, served: item.endpoints.isEmpty ? nil : served[item.id] ?? [])
        }
        // Entries left out for their own errors: what is wrong with them, nothing read.
        for entry in report.refused where names.isEmpty || names.contains(entry.commonName) {
            certificates.append(
                Certificate(
                    name: entry.resourceID, commonName: entry.commonName, dnsNames: [], ipAddresses: [], state: "invalid", reasons: entry.problems,
                    installed: []))
        }
        return CertsStatus(certificates: certificates)
    }
}

/// `phoenix drift certs`: each certificate beside what phoenix last installed (the fingerprint its
/// journal verified) and the manifest.
public enum CertDrift {
    public struct Item: Sendable {
        public let id: String
        public let state: Drift
        public let detail: String

        /// The word `drift` says (a certificate never installed is "not installed"); nil in sync.
        public var drift: String? {
            switch state {
            case .inSync: return nil
            case .neverApplied: return "not installed"
            default: return state.rawValue
            }
        }
    }

    public static func check(_ report: CertConvergence.Report, verified: [String: String]) -> [Item] {
        report.items.map { item in
            if let facts = item.facts, let installed = verified[item.id], installed != facts.fingerprint {
                return Item(
                    id: item.id, state: .changedByHand,
                    detail: "\(item.request.certPath) holds serial \(facts.serial), not the certificate phoenix installed")
            }
            if !item.handChanges.isEmpty { return Item(id: item.id, state: .changedByHand, detail: item.handChanges.joined(separator: "; ")) }
            switch item.assessment.state {
            case .missing:
                return Item(
                    id: item.id, state: verified[item.id] == nil ? .neverApplied : .changedByHand, detail: item.assessment.reasons.joined(separator: "; "))
            case .mismatch:
                return Item(id: item.id, state: .configurationChanged, detail: item.assessment.reasons.joined(separator: "; "))
            case .expired, .renewDue:
                return Item(id: item.id, state: .inSync, detail: "renewal due: " + item.assessment.reasons.joined(separator: "; "))
            case .valid:
                return Item(id: item.id, state: .inSync, detail: "")
            }
        }
    }
}
