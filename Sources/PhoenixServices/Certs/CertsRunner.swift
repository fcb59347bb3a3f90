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

    public var error: String? { report.error }
    public var failures: [String: String] { report.failures }
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

/// `phoenix certs status`: every entry of the manifest as installed. Issues nothing.
public enum CertsStatus {
    /// What each endpoint serves now, by certificate id: one handshake per endpoint, side by side.
    public static func served(_ report: CertConvergence.Report, names: Set<String>, timeout: Double) async -> [String: [JSONValue]] {
        await withTaskGroup(of: (String, Int, JSONValue).self) { group in
            for item in report.items where names.isEmpty || names.contains(item.request.commonName) {
                for (index, endpoint) in item.endpoints.enumerated() {
                    let installed = item.facts?.fingerprint
                    group.addTask {
                        var entry: [(key: String, value: JSONValue)] = [("at", .string("\(endpoint.host):\(endpoint.port)")), ("what", .string(endpoint.what))]
                        switch await ServedFingerprint.read(endpoint, timeout: timeout) {
                        case let .success(fingerprint):
                            entry += [("fingerprint", .string(fingerprint)), ("matches", .bool(fingerprint == installed))]
                        case let .failure(error):
                            entry.append(("error", .string(error.message)))
                        }
                        return (item.id, index, .object(entry))
                    }
                }
            }
            var served: [String: [(Int, JSONValue)]] = [:]
            for await (id, index, entry) in group { served[id, default: []].append((index, entry)) }
            return served.mapValues { $0.sorted { $0.0 < $1.0 }.map(\.1) }
        }
    }

    public static func document(_ report: CertConvergence.Report, names: Set<String>, now: Date, served: [String: [JSONValue]] = [:]) -> JSONValue {
        var certificates: [JSONValue] = []
        let dates = ISO8601DateFormatter()
        for item in report.items where names.isEmpty || names.contains(item.request.commonName) {
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(item.id)), ("common_name", .string(item.request.commonName)),
            ]
            if let facts = item.facts {
                members += [
                    ("dns_sans", .array(facts.dnsNames.sorted().map(JSONValue.string))),
                    ("ip_sans", .array(facts.ipAddresses.sorted().map { .string($0.description) })), ("serial", .string(facts.serial)),
                    ("not_before", .string(dates.string(from: facts.notBefore))),
                    ("not_after", .string(dates.string(from: facts.notAfter))),
                    ("seconds_left", .number(Double(Int(facts.notAfter.timeIntervalSince(now))))), ("issuer", .string(facts.issuer)),
                    ("fingerprint", .string(facts.fingerprint)), ("key_matches", facts.keyMatches.map(JSONValue.bool) ?? .null),
                ]
            } else {
                members += [
                    ("dns_sans", .array(item.request.dnsNames.map { .string($0.text) })),
                    ("ip_sans", .array(item.request.ipAddresses.map { .string($0.description) })), ("serial", .null), ("not_after", .null),
                    ("seconds_left", .null),
                ]
            }
            members.append(("state", .string(item.assessment.state.rawValue)))
            members.append(("reasons", .array((item.assessment.reasons + item.handChanges).map(JSONValue.string))))
            let installed: [JSONValue] = item.copies.map { copy in
                var entry: [(key: String, value: JSONValue)] = [
                    ("machine", .string(copy.machine)), ("path", .string(copy.path)), ("role", .string(copy.role.rawValue)),
                    ("present", .bool(copy.found != nil)),
                ]
                if let found = copy.found {
                    entry += [("owner", .string(found.owner)), ("group", .string(found.group)), ("mode", .string(found.mode))]
                }
                entry.append(("configured", .string("\(copy.owner):\(copy.group) \(copy.mode)")))
                if let error = copy.error { entry.append(("error", .string(error))) }
                return .object(entry)
            }
            members.append(("installed", .array(installed)))
            if let problem = item.servingProblem {
                members.append(("served", .object([("error", .string(problem))])))
            } else {
                members.append(("served", item.endpoints.isEmpty ? .null : .array(served[item.id] ?? [])))
            }
            certificates.append(.object(members))
        }
        // Entries left out for their own errors: what is wrong with them, nothing read.
        for entry in report.refused where names.isEmpty || names.contains(entry.commonName) {
            certificates.append(
                .object([
                    ("name", .string(entry.resourceID)), ("common_name", .string(entry.commonName)), ("dns_sans", .array([])),
                    ("ip_sans", .array([])), ("serial", .null), ("not_after", .null), ("seconds_left", .null), ("state", .string("invalid")),
                    ("reasons", .array(entry.problems.map(JSONValue.string))), ("installed", .array([])), ("served", .null),
                ]))
        }
        return .object([("version", .number(1)), ("certificates", .array(certificates))])
    }

    public static func text(_ document: JSONValue) -> String {
        var out = ""
        for cert in document["certificates"]?.arrayItems ?? [] {
            let left = cert["seconds_left"]?.intValue.map { Durations.text(TimeInterval(max(0, $0))) + " left" } ?? "-"
            out += "\(cert["common_name"]?.stringValue ?? "")  \(cert["state"]?.stringValue ?? "")  \(left)"
            out += "  serial \(cert["serial"]?.stringValue ?? "-")\n"
            let dns = cert["dns_sans"]?.arrayItems.compactMap(\.stringValue).joined(separator: ",") ?? ""
            let ips = cert["ip_sans"]?.arrayItems.compactMap(\.stringValue).joined(separator: ",") ?? ""
            out += "  dns \(dns.isEmpty ? "-" : dns)  ip \(ips.isEmpty ? "-" : ips)  not after \(cert["not_after"]?.stringValue ?? "-")\n"
            for reason in cert["reasons"]?.arrayItems.compactMap(\.stringValue) ?? [] { out += "  ! \(TextRules.printable(reason, limit: 600))\n" }
            for endpoint in cert["served"]?.arrayItems ?? [] {
                let what =
                    endpoint["error"]?.stringValue.map { TextRules.printable($0, limit: 300) }
                    ?? (endpoint["matches"]?.boolValue == true ? "serves it" : "serves another certificate")
                out += "  served at \(endpoint["at"]?.stringValue ?? "") (\(endpoint["what"]?.stringValue ?? "")): \(what)\n"
            }
            for copy in cert["installed"]?.arrayItems ?? [] {
                let present = copy["present"]?.boolValue == true
                let ownership =
                    present ? "\(copy["owner"]?.stringValue ?? ""):\(copy["group"]?.stringValue ?? "") \(copy["mode"]?.stringValue ?? "")" : "missing"
                out += "  \(copy["machine"]?.stringValue ?? "") \(copy["path"]?.stringValue ?? "")  \(ownership)\n"
            }
        }
        return out
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
