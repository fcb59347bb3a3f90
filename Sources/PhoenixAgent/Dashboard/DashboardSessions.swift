import Crypto
import Foundation
import Synchronization

/// The dashboard's sign-ins. A token of the agent's tokens file, typed into the login form, opens
/// a session: a random id in an HttpOnly, SameSite=Strict cookie, and a CSRF token of its own that
/// every form of the session carries. Sessions live in the agent's memory (a restart signs everyone
/// out) and end at their max age, enforced here and not only by the browser; a session whose token
/// was taken out of the tokens file (and SIGHUP sent) ends at its next request.
public final class DashboardSessions: Sendable {
    public struct Session: Sendable, Equatable {
        /// Who signed in, as the tokens file names the token now.
        public var identity: Identity
        /// The SHA-256 of the token signed in with (never the token).
        public let credential: [UInt8]
        /// The value each form of the session posts in its hidden `csrf` field.
        public let csrf: String
        public let expires: Date
    }

    /// The cookie's name.
    public static let cookie = "phoenix_session"

    public let maxAge: TimeInterval
    /// The most sessions kept at once; a new one beyond it ends the one closest to its end.
    public let capacity: Int
    private let clock: @Sendable () -> Date
    /// By the SHA-256 of the cookie's value: the ids themselves are kept nowhere.
    private let sessions = Mutex<[String: Session]>([:])
    /// Failed logins in the current window, and when it started.
    private let failures = Mutex<(count: Int, since: Date)>((0, .distantPast))

    public init(maxAge: TimeInterval = 12 * 3600, capacity: Int = 1000, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.maxAge = maxAge
        self.capacity = capacity
        self.clock = clock
    }

    /// A new session for `identity`, signed in with the token whose SHA-256 is `credential`: the
    /// cookie's value and the session.
    public func open(_ identity: Identity, credential: [UInt8]) -> (cookie: String, session: Session) {
        let id = Self.random()
        let session = Session(identity: identity, credential: credential, csrf: Self.random(), expires: clock().addingTimeInterval(maxAge))
        let now = clock()
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                sessions[oldest.key] = nil
            }
            sessions[Self.key(id)] = session
        }
        return (id, session)
    }

    /// The session a cookie's value names, while it lasts and its token is still in the tokens
    /// file (`current` says whose it is now: a changed role applies at once).
    public func session(_ cookie: String?, current: ([UInt8]) -> Identity?) -> Session? {
        guard let cookie, !cookie.isEmpty else { return nil }
        let key = Self.key(cookie)
        let now = clock()
        return sessions.withLock { sessions in
            guard var session = sessions[key] else { return nil }
            guard session.expires > now, let identity = current(session.credential) else {
                sessions[key] = nil
                return nil
            }
            session.identity = identity
            sessions[key] = session
            return session
        }
    }

    /// Ends the session a cookie's value names.
    public func close(_ cookie: String?) {
        guard let cookie else { return }
        _ = sessions.withLock { $0.removeValue(forKey: Self.key(cookie)) }
    }

    /// Counts a failed login, in windows of `window` seconds (see `loginsHeld`).
    public func failedLogin(window: TimeInterval = 300) {
        let now = clock()
        failures.withLock { failures in
            if now.timeIntervalSince(failures.since) > window { failures = (0, now) }
            failures.count += 1
        }
    }

    /// Whether logins are held back: `limit` failures within the current window of `window`
    /// seconds (a login is then refused without looking at its token).
    public func loginsHeld(limit: Int = 5, window: TimeInterval = 300) -> Bool {
        let now = clock()
        return failures.withLock { now.timeIntervalSince($0.since) <= window && $0.count >= limit }
    }

    /// How many sessions are open.
    public var count: Int {
        let now = clock()
        return sessions.withLock { $0.values.filter { $0.expires > now }.count }
    }

    /// 32 random bytes as hex.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return ConstantTime.hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func key(_ cookie: String) -> String {
        ConstantTime.hex(SHA256.hash(data: Array(cookie.utf8)))
    }
}
