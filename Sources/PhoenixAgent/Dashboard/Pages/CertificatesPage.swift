import Foundation
import PhoenixServices

/// `/certificates`: every certificate as the last certificate check read it (`certs status`), the
/// soonest expiry first: its state, SANs, where it is installed and where it is served, with a
/// timeline of the next 90 days drawn as SVG on the server. Never key material: the status holds
/// fingerprints and paths only.
enum CertificatesPage {
    static func render(_ reading: EstateReadings.Reading<CertsStatus>?, page: String?, now: Date = Date()) -> HTML {
        let notYet: HTML = "<p class=\"muted\">No certificate read yet (or none in the stages the agent converges).</p>"
        guard let reading, let status = reading.status else { return Layout.unread(reading, "certificates", notYet: notYet) ?? .empty }
        let sorted = status.certificates.sorted { ($0.facts?.notAfter ?? .distantPast, $0.name) < ($1.facts?.notAfter ?? .distantPast, $1.name) }
        let pager = Pager(sorted, page: page)
        let rows = pager.items.map { row(for: $0, now: now) }
        let expiring = sorted.compactMap { certificate in certificate.facts.map { (name: certificate.name, expires: $0.notAfter) } }
        return """
            <p>Read \(Layout.time(reading.at)): \(sorted.count) certificate\(sorted.count == 1 ? "" : "s").</p>
            \(pager.page == 1 ? timeline(expiring, now: now) : .empty)
            <div class="table"><table><thead><tr><th scope="col">Certificate</th><th scope="col">State</th><th scope="col">Expires</th>\
            <th scope="col">SANs</th><th scope="col">Installed</th><th scope="col">Served</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            \(pager.navigation("/certificates"))
            """
    }

    static func row(for certificate: CertsStatus.Certificate, now: Date) -> HTML {
        let expires: HTML
        if let facts = certificate.facts {
            let days = Int((facts.notAfter.timeIntervalSince(now) / 86400).rounded(.down))
            expires = "\(Layout.time(facts.notAfter)) <span class=\"muted\">(\(days < 0 ? "expired" : "\(days) days left"))</span>"
        } else {
            expires = "—"
        }
        let sans = (certificate.dnsNames + certificate.ipAddresses).map { "<li><code>\($0)</code></li>" as HTML }
        let installed = certificate.installed.map { copy -> HTML in
            "<li>\(copy.machine): <code>\(copy.path)</code> (\(copy.role)\(copy.present ? "" : ", missing")\(copy.error.map { ", \($0)" } ?? ""))</li>"
        }
        let served: [HTML]
        if let problem = certificate.servingProblem {
            served = ["<li class=\"muted\">\(problem)</li>"]
        } else {
            served = (certificate.served ?? []).map { entry -> HTML in
                let what = entry.error ?? (entry.matches == true ? "serves it" : "serves another certificate")
                return "<li>\(entry.at) (\(entry.what)): \(what)</li>"
            }
        }
        let reasons: HTML = certificate.reasons.isEmpty ? .empty : "<ul>\(certificate.reasons.map { "<li>\($0)</li>" as HTML })</ul>"
        return """
            <tr data-certificate="\(certificate.name)" data-state="\(certificate.state)"><td>\(certificate.name)\(reasons)</td>\
            <td>\(Layout.badge(certificate.state))</td><td>\(expires)</td><td><ul class="plain">\(sans)</ul></td>\
            <td><ul class="plain">\(installed)</ul></td><td><ul class="plain">\(served)</ul></td></tr>
            """
    }

    /// One bar per certificate (the 30 that expire first), its length the time left over the next
    /// 90 days.
    static func timeline(_ sorted: [(name: String, expires: Date)], now: Date) -> HTML {
        let shown = Array(sorted.prefix(30))
        guard !shown.isEmpty else { return .empty }
        let width = 600.0
        let row = 22
        let label = 180.0
        let bars = shown.enumerated().map { index, item -> HTML in
            let days = max(0, min(90, item.expires.timeIntervalSince(now) / 86400))
            let length = Int((width - label) * days / 90)
            let y = index * row
            return """
                <text x="0" y="\(y + 15)">\(item.name)</text><rect x="\(Int(label))" y="\(y + 4)" width="\(max(1, length))" height="14" \
                class="\(days < 30 ? "soon" : "later")"><title>\(item.name): \(Int(days)) days</title></rect>
                """
        }
        let height = shown.count * row + 4
        return """
            <figure><svg role="img" aria-labelledby="timeline-title" viewBox="0 0 \(Int(width)) \(height)" width="100%" height="\(height)">\
            <title id="timeline-title">Days left of each certificate, over the next 90 days</title>\
            \(bars)</svg><figcaption class="muted">Days left, up to 90; shorter than 30 in amber.</figcaption></figure>
            """
    }
}
