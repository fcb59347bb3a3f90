import Foundation

/// `/certificates`: every installed certificate the last hourly check read, soonest expiry first,
/// with a timeline of the next 90 days drawn as SVG on the server.
enum CertificatesPage {
    static func render(_ expiries: [(name: String, expires: Date)], now: Date = Date()) -> HTML {
        guard !expiries.isEmpty else { return "<p class=\"muted\">No certificate read yet (or none in the stages the agent converges).</p>" }
        let sorted = expiries.sorted { $0.expires < $1.expires }
        let rows = sorted.map { item -> HTML in
            let days = Int((item.expires.timeIntervalSince(now) / 86400).rounded(.down))
            let state = days < 0 ? "failed" : days < 30 ? "drifted" : "in sync"
            return """
                <tr data-certificate="\(item.name)"><td>\(item.name)</td><td>\(Layout.time(item.expires))</td>\
                <td>\(Layout.badge(state)) \(days < 0 ? "expired" : "\(days) days left")</td></tr>
                """
        }
        return """
            \(timeline(sorted, now: now))
            <div class="table"><table><thead><tr><th scope="col">Certificate</th><th scope="col">Expires</th><th scope="col">Left</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
    }

    /// One bar per certificate (up to 30), its length the time left over the next 90 days.
    static func timeline(_ sorted: [(name: String, expires: Date)], now: Date) -> HTML {
        let shown = Array(sorted.prefix(30))
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
