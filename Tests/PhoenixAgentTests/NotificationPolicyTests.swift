import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Synchronization
import Testing

@Suite("Notification de-duplication")
struct NotificationPolicyTests {
    static let web = NotificationCause.failedResources([("stack:web", "health")])
    static let dns = NotificationCause.invalidCommit(diagnostics: ["etc/dns.json: /records/0/name: expected a string"])

    @Test("the same failing commit polled ten times is told once; a different failure at once; success once; a later success not at all")
    func dedup() {
        var policy = NotificationPolicy()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(policy.decide(failure: Self.web, at: start) == .failure(Self.web, repeated: false))
        for poll in 1...9 { #expect(policy.decide(failure: Self.web, at: start + Double(poll) * 60) == nil) }
        #expect(policy.decide(failure: Self.dns, at: start + 600) == .failure(Self.dns, repeated: false))
        #expect(policy.decide(failure: nil, at: start + 660) == .recovery)
        #expect(policy.decide(failure: nil, at: start + 720) == nil)
        #expect(policy.decide(failure: nil, at: start + 7200) == nil)
    }

    @Test("the same cause again is told at most once an hour (configurable)")
    func repeats() {
        var policy = NotificationPolicy()
        let start = Date(timeIntervalSince1970: 0)
        #expect(policy.decide(failure: Self.web, at: start) != nil)
        #expect(policy.decide(failure: Self.web, at: start + 3599) == nil)
        #expect(policy.decide(failure: Self.web, at: start + 3600) == .failure(Self.web, repeated: true))
        #expect(policy.decide(failure: Self.web, at: start + 3700) == nil)
        var quick = NotificationPolicy(repeatInterval: 300)
        #expect(quick.decide(failure: Self.web, at: start) != nil)
        #expect(quick.decide(failure: Self.web, at: start + 300) == .failure(Self.web, repeated: true))
    }

    @Test("after a recovery the same cause is new again; a cause back after another is told at once")
    func afterRecovery() {
        var policy = NotificationPolicy()
        let start = Date(timeIntervalSince1970: 0)
        #expect(policy.decide(failure: Self.web, at: start) != nil)
        #expect(policy.decide(failure: nil, at: start + 10) == .recovery)
        #expect(policy.decide(failure: Self.web, at: start + 20) == .failure(Self.web, repeated: false))
        #expect(policy.decide(failure: Self.dns, at: start + 30) != nil)
        #expect(policy.decide(failure: Self.web, at: start + 40) == .failure(Self.web, repeated: false))
    }

    @Test("a notification that reached no target is owed: the same failure is told by the next run, a recovery by the next success")
    func owed() {
        var policy = NotificationPolicy()
        let start = Date(timeIntervalSince1970: 0)
        let first = policy.decide(failure: Self.web, at: start)
        #expect(first == .failure(Self.web, repeated: false))
        policy.notDelivered(first!)
        #expect(policy.decide(failure: Self.web, at: start + 60) == .failure(Self.web, repeated: false), "not an hour later")
        #expect(policy.decide(failure: Self.web, at: start + 120) == nil, "told now")
        let recovery = policy.decide(failure: nil, at: start + 180)
        #expect(recovery == .recovery)
        policy.notDelivered(recovery!)
        #expect(policy.decide(failure: nil, at: start + 240) == .recovery)
        #expect(policy.decide(failure: nil, at: start + 300) == nil)
        // A failure never told, then a success: nothing to recover from.
        var quiet = NotificationPolicy()
        quiet.notDelivered(quiet.decide(failure: Self.dns, at: start)!)
        #expect(quiet.decide(failure: nil, at: start + 60) == nil)
    }

    @Test("causes compare by what failed, in any order")
    func causes() {
        let a = NotificationCause.failedResources([("stack:web", "health"), ("dns:lab", "refused")])
        let b = NotificationCause.failedResources([("dns:lab", "refused"), ("stack:web", "health")])
        #expect(a == b)
        #expect(a.summary == "failed: dns:lab (refused), stack:web (health)")
        #expect(a != NotificationCause.failedResources([("stack:web", "timeout"), ("dns:lab", "refused")]))
        #expect(NotificationCause.invalidCommit(diagnostics: ["b", "a"]) == NotificationCause.invalidCommit(diagnostics: ["a", "b"]))
        #expect(NotificationCause.invalidCommit(diagnostics: ["b", "a"]).summary == "invalid commit: a (and 1 more)")
    }

    @Test("the notifier tells every target once per decision, with an injected clock")
    func notifier() async throws {
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: 200) }
        let clock = ManualClock()
        let log = LogLines()
        let targets = try ["https://hooks.example.com/a", "slack+https://hooks.slack.com/services/T/B/X"].map(NotificationTarget.init)
        let notifier = Notifier(targets: targets, transport: transport, clock: clock.closure, retryDelays: [], warn: log.closure)
        let commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"
        for run in 1...10 {
            await notifier.runEnded(estate: "lab", commit: commit, run: "\(run)", outcome: "failed", url: nil, failure: Self.web)
            clock.advance(60)
        }
        #expect(transport.requests.count == 2)
        let other = await notifier.runEnded(estate: "lab", commit: commit, run: "11", outcome: "failed", url: nil, failure: Self.dns)
        #expect(other?.message == Self.dns.summary)
        #expect(transport.requests.count == 4)
        clock.advance(3600)
        let repeated = await notifier.runEnded(estate: "lab", commit: commit, run: "12", outcome: "failed", url: nil, failure: Self.dns)
        #expect(repeated?.message == "still " + Self.dns.summary)
        let recovery = await notifier.runEnded(estate: "lab", commit: commit, run: "13", outcome: "succeeded", url: nil, failure: nil)
        #expect(recovery?.event == .recovery)
        #expect(await notifier.runEnded(estate: "lab", commit: commit, run: "14", outcome: "succeeded", url: nil, failure: nil) == nil)
        #expect(transport.requests.count == 8)
        #expect(transport.requests.map(\.url).filter { $0.contains("slack") }.count == 4)
        #expect(log.all.isEmpty)
    }

    @Test("a target that fails is retried, then warned about by kind and host; the others still get it")
    func failingTarget() async throws {
        let transport = ScriptedHTTPTransport { request, _ in HTTPResponseMessage(status: request.url.contains("broken") ? 500 : 204) }
        let log = LogLines()
        let targets = try ["https://broken.example.com/hook", "discord+https://discord.com/api/webhooks/1/abc"].map(NotificationTarget.init)
        let notifier = Notifier(targets: targets, transport: transport, retryDelays: [.zero, .zero], warn: log.closure)
        let told = await notifier.send(NotificationTargetTests.failure)
        #expect(told == 1)
        #expect(transport.requests.count == 4)
        #expect(log.all == ["notification (failure) to webhook (broken.example.com) not sent after 3 attempt(s): HTTP 500"])
    }

    @Test("a failure no target took is told by the next run that fails the same way (the server was down, not quiet)")
    func toldWhenBack() async throws {
        let down = Mutex(true)
        let transport = ScriptedHTTPTransport { _, _ in HTTPResponseMessage(status: down.withLock { $0 } ? 503 : 200) }
        let log = LogLines()
        let notifier = Notifier(
            targets: [try NotificationTarget("https://hooks.example.com/a")], transport: transport, retryDelays: [], warn: log.closure)
        let commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"
        #expect(await notifier.runEnded(estate: "lab", commit: commit, run: "1", outcome: "failed", url: nil, failure: Self.web) == nil)
        down.withLock { $0 = false }
        let again = await notifier.runEnded(estate: "lab", commit: commit, run: "2", outcome: "failed", url: nil, failure: Self.web)
        #expect(again?.message == Self.web.summary)
        #expect(await notifier.runEnded(estate: "lab", commit: commit, run: "3", outcome: "failed", url: nil, failure: Self.web) == nil)
        #expect(transport.requests.count == 2)
        #expect(log.all.count == 1)
    }
}
