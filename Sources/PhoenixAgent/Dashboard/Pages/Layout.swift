import Foundation
import PhoenixCore

/// Who looks at a page: a signed-in person (with the session's CSRF token for its forms), or
/// anyone when the agent runs with `--anonymous-read`.
struct Viewer: Sendable {
    let identity: Identity?
    let csrf: String?

    /// Whether the page shows action buttons: only to a session with the `operate` role.
    var canOperate: Bool { identity?.role.allows(.operate) == true && csrf != nil }
}

/// Every page's frame: the head, the navigation, the sign-out form, and the page's main part.
enum Layout {
    /// The pages in the navigation, with their paths.
    static let sections: [(path: String, title: String)] = [
        ("/", "Overview"), ("/runs", "Runs"), ("/drift", "Drift"), ("/certificates", "Certificates"), ("/stacks", "Stacks"),
        ("/guests", "Guests"), ("/graph", "Graph"),
    ]

    static func page(title: String, section: String, viewer: Viewer, estate: String, main: HTML) -> HTML {
        let links = sections.map { item -> HTML in
            item.path == section
                ? "<li><a href=\"\(item.path)\" aria-current=\"page\">\(item.title)</a></li>"
                : "<li><a href=\"\(item.path)\">\(item.title)</a></li>"
        }
        var account = HTML.empty
        if let identity = viewer.identity, let csrf = viewer.csrf {
            account = """
                <form class="account" method="post" action="/logout">\(csrfField(csrf))\
                <span>\(identity.name) (\(identity.role.rawValue))</span> <button type="submit">Sign out</button></form>
                """
        } else if viewer.identity == nil {
            account = "<p class=\"account\">Read-only, anonymous. <a href=\"/login\">Sign in</a></p>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">\
            <meta name="viewport" content="width=device-width, initial-scale=1">\
            <meta name="color-scheme" content="light dark">\
            <title>\(title) · \(estate) · phoenix</title>\
            <link rel="stylesheet" href="/assets/phoenix.css"></head>
            <body><a class="skip" href="#main">Skip to the content</a>
            <header><p class="brand">phoenix · \(estate)</p><nav aria-label="Sections"><ul>\(links)</ul></nav>\(account)</header>
            <main id="main"><h1>\(title)</h1>
            \(main)
            </main></body></html>

            """
    }

    /// What a page over a reading shows when it has no status to render: that it was not read yet
    /// (`notYet`), or why it could not be read and when; nil when there is a status.
    static func unread<Status>(_ reading: EstateReadings.Reading<Status>?, _ what: String, notYet: HTML) -> HTML? {
        guard let reading else { return notYet }
        guard reading.status == nil else { return nil }
        return "<p class=\"error\" role=\"alert\">The \(what) could not be read at \(time(reading.at)): \(reading.failure ?? "")</p>"
    }

    static func csrfField(_ token: String) -> HTML { "<input type=\"hidden\" name=\"csrf\" value=\"\(token)\">" }

    /// `2026-12-06 02:17 UTC`.
    static func time(_ date: Date?) -> HTML {
        guard let date else { return "—" }
        let text = AgentAPI.timestamp(date)
        return "<time datetime=\"\(text)\">\(text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC"))</time>"
    }

    /// A commit's first twelve characters, the whole in its title.
    static func commit(_ commit: String?) -> HTML {
        guard let commit else { return "—" }
        return "<code title=\"\(commit)\">\(commit.prefix(12))</code>"
    }

    /// A state word as a badge (`data-state` carries the word as the API spells it).
    static func badge(_ word: String) -> HTML {
        "<span class=\"badge \(word.replacingOccurrences(of: " ", with: "-"))\">\(word)</span>"
    }

    /// Why a run ran, in words: `webhook (gitea, delivery d-1)`, `approval by ops`.
    static func trigger(_ trigger: RunTrigger?) -> String {
        guard let trigger else { return "a person (cli)" }
        var facts: [String] = []
        if let provider = trigger.provider { facts.append(provider) }
        if let delivery = trigger.delivery { facts.append("delivery \(delivery)") }
        if let actor = trigger.actor { facts.append("by \(actor)") }
        if let approves = trigger.approves { facts.append("approves run \(approves)") }
        return trigger.kind.rawValue + (facts.isEmpty ? "" : " (\(facts.joined(separator: ", ")))")
    }
}
