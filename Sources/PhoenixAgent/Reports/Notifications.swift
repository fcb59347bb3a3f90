import Foundation
import PhoenixCore
import Synchronization

/// One message the agent sends to its `--notify` targets.
public struct AgentNotification: Sendable, Equatable {
    public enum Event: String, Sendable {
        case failure
        case recovery
    }

    public let event: Event
    public let estate: String
    public let commit: String?
    public let run: String?
    /// The run's outcome, as the run records spell it (`failed`, `rolled back`, `succeeded`…).
    public let outcome: String
    public let message: String
    /// The run's page.
    public let url: String?

    public init(event: Event, estate: String, commit: String?, run: String?, outcome: String, message: String, url: String?) {
        self.event = event
        self.estate = estate
        self.commit = commit
        self.run = run
        self.outcome = outcome
        self.message = message
        self.url = url
    }

    /// `phoenix: lab failed` / `phoenix: lab recovered`.
    public var title: String { "phoenix: \(estate) \(event == .failure ? "failed" : "recovered")" }

    /// The message with the commit, run and link, for targets that take one block of text.
    public var text: String {
        var lines = [message]
        let facts = [commit.map { "commit \($0.prefix(12))" }, run.map { "run \($0)" }].compactMap { $0 }
        if !facts.isEmpty { lines.append(facts.joined(separator: ", ")) }
        if let url { lines.append(url) }
        return lines.joined(separator: "\n")
    }

    /// The generic webhook's document: `{"event","estate","commit","run","outcome","message","url"}`.
    public var json: JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
        return .object([
            ("event", .string(event.rawValue)), ("estate", .string(estate)), ("commit", optional(commit)), ("run", optional(run)),
            ("outcome", .string(outcome)), ("message", .string(message)), ("url", optional(url)),
        ])
    }
}

/// Decides, with `NotificationPolicy`, whether a run's end is told, and tells every target.
/// A target that fails is retried with backoff and then reported through `warn` (naming only
/// its kind and host); nothing here fails a run.
public final class Notifier: Sendable {
    public let targets: [NotificationTarget]
    private let transport: any HTTPTransport
    private let policy: Mutex<NotificationPolicy>
    private let clock: @Sendable () -> Date
    private let retryDelays: [Duration]
    private let timeout: Double
    private let warn: @Sendable (String) -> Void

    public init(
        targets: [NotificationTarget], transport: any HTTPTransport, policy: NotificationPolicy = NotificationPolicy(),
        clock: @escaping @Sendable () -> Date = { Date() }, retryDelays: [Duration] = [.seconds(2), .seconds(10)], timeout: Double = 10,
        warn: @escaping @Sendable (String) -> Void
    ) {
        self.targets = targets
        self.transport = transport
        self.policy = Mutex(policy)
        self.clock = clock
        self.retryDelays = retryDelays
        self.timeout = timeout
        self.warn = warn
    }

    /// Tells of a run that ended (`failure` nil: it succeeded), when the policy says so; returns
    /// what was told, or nil. When no target took it, the policy owes it to the next run.
    @discardableResult
    public func runEnded(
        estate: String, commit: String?, run: String?, outcome: String, url: String?, failure: NotificationCause?
    ) async -> AgentNotification? {
        let now = clock()
        guard let decision = policy.withLock({ $0.decide(failure: failure, at: now) }) else { return nil }
        let notification: AgentNotification
        switch decision {
        case let .failure(cause, repeated):
            let message = repeated ? "still \(cause.summary)" : cause.summary
            notification = AgentNotification(event: .failure, estate: estate, commit: commit, run: run, outcome: outcome, message: message, url: url)
        case .recovery:
            notification = AgentNotification(
                event: .recovery, estate: estate, commit: commit, run: run, outcome: outcome, message: "runs succeed again", url: url)
        }
        if await send(notification) == 0, !targets.isEmpty {
            policy.withLock { $0.notDelivered(decision) }
            return nil
        }
        return notification
    }

    /// Sends `notification` to every target at once; returns how many took it.
    @discardableResult
    public func send(_ notification: AgentNotification) async -> Int {
        await withTaskGroup(of: Bool.self) { group in
            for target in targets { group.addTask { await self.deliver(notification, to: target) } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }

    private func deliver(_ notification: AgentNotification, to target: NotificationTarget) async -> Bool {
        let what = "notification (\(notification.event.rawValue)) to \(target)"
        var attempt = 0
        while true {
            let request: HTTPRequestMessage
            do throws(SecretFileError) {
                request = try target.request(for: notification)
            } catch {
                warn("\(what) not sent: \(error)")
                return false
            }
            let secrets = target.secrets + request.headers.filter { ["authorization", "x-gotify-key"].contains($0.name.lowercased()) }.map(\.value)
            let failure: String
            let retryable: Bool
            do throws(HTTPTransportError) {
                let response = try await transport.send(request, timeout: timeout)
                if (200..<300).contains(response.status) { return true }
                failure = Redaction.failure(response, hiding: secrets)
                retryable = Redaction.isRetryable(response.status)
            } catch {
                failure = Redaction.failure(error, hiding: secrets)
                retryable = true
            }
            guard retryable, attempt < retryDelays.count, !Task.isCancelled else {
                warn("\(what) not sent after \(attempt + 1) attempt(s): \(failure)")
                return false
            }
            try? await Task.sleep(for: retryDelays[attempt])
            attempt += 1
        }
    }
}
