import Foundation
import PhoenixCore

/// `certs status --format json` and the agent's `/api/v1/certificates`: one renderer, field names a
/// contract.
extension CertsStatus {
    public var json: JSONValue {
        let dates = ISO8601DateFormatter()
        let certificates: [JSONValue] = certificates.map { cert in
            var members: [(key: String, value: JSONValue)] = [
                ("name", .string(cert.name)), ("common_name", .string(cert.commonName)), ("dns_sans", .array(cert.dnsNames.map(JSONValue.string))),
                ("ip_sans", .array(cert.ipAddresses.map(JSONValue.string))),
            ]
            if let facts = cert.facts {
                members += [
                    ("serial", .string(facts.serial)), ("not_before", .string(dates.string(from: facts.notBefore))),
                    ("not_after", .string(dates.string(from: facts.notAfter))), ("seconds_left", .number(Double(cert.secondsLeft ?? 0))),
                    ("issuer", .string(facts.issuer)), ("fingerprint", .string(facts.fingerprint)),
                    ("key_matches", facts.keyMatches.map(JSONValue.bool) ?? .null),
                ]
            } else {
                members += [("serial", .null), ("not_after", .null), ("seconds_left", .null)]
            }
            members.append(("state", .string(cert.state)))
            members.append(("reasons", .array(cert.reasons.map(JSONValue.string))))
            members.append(
                (
                    "installed",
                    .array(
                        cert.installed.map { copy in
                            var entry: [(key: String, value: JSONValue)] = [
                                ("machine", .string(copy.machine)), ("path", .string(copy.path)), ("role", .string(copy.role)),
                                ("present", .bool(copy.present)),
                            ]
                            if copy.present {
                                entry += [("owner", .string(copy.owner ?? "")), ("group", .string(copy.group ?? "")), ("mode", .string(copy.mode ?? ""))]
                            }
                            entry.append(("configured", .string(copy.configured)))
                            if let error = copy.error { entry.append(("error", .string(error))) }
                            return .object(entry)
                        })
                ))
            if let problem = cert.servingProblem {
                members.append(("served", .object([("error", .string(problem))])))
            } else {
                members.append(
                    (
                        "served",
                        cert.served.map { served in
                            .array(
                                served.map { entry in
                                    var members: [(key: String, value: JSONValue)] = [("at", .string(entry.at)), ("what", .string(entry.what))]
                                    if let fingerprint = entry.fingerprint {
                                        members += [("fingerprint", .string(fingerprint)), ("matches", .bool(entry.matches ?? false))]
                                    }
                                    if let error = entry.error { members.append(("error", .string(error))) }
                                    return .object(members)
                                })
                        } ?? .null
                    ))
            }
            return .object(members)
        }
        return .object([("version", .number(1)), ("certificates", .array(certificates))])
    }
}
