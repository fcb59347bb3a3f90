import Foundation
import PhoenixCore
import PhoenixServices

/// `certs status` for people (the JSON is the service's, `CertsStatus.json`).
extension CertsStatus {
    var text: String {
        let dates = ISO8601DateFormatter()
        var out = ""
        for cert in certificates {
            let left = cert.secondsLeft.map { Durations.text(TimeInterval(max(0, $0))) + " left" } ?? "-"
            out += "\(cert.commonName)  \(cert.state)  \(left)  serial \(cert.facts?.serial ?? "-")\n"
            let dns = cert.dnsNames.joined(separator: ",")
            let ips = cert.ipAddresses.joined(separator: ",")
            out += "  dns \(dns.isEmpty ? "-" : dns)  ip \(ips.isEmpty ? "-" : ips)  not after \(cert.facts.map { dates.string(from: $0.notAfter) } ?? "-")\n"
            for reason in cert.reasons { out += "  ! \(TextRules.printable(reason, limit: 600))\n" }
            for entry in cert.servingProblem == nil ? cert.served ?? [] : [] {
                let what = entry.error.map { TextRules.printable($0, limit: 300) } ?? (entry.matches == true ? "serves it" : "serves another certificate")
                out += "  served at \(entry.at) (\(entry.what)): \(what)\n"
            }
            for copy in cert.installed {
                out += "  \(copy.machine) \(copy.path)  \(copy.present ? "\(copy.owner ?? ""):\(copy.group ?? "") \(copy.mode ?? "")" : "missing")\n"
            }
        }
        return out
    }
}
