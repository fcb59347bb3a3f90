import Synchronization

/// The system the test-only notes kind converges: a board of named notes, held in memory, that
/// stands in for a real system (a key-value API) in the fast tests. It can be told to refuse a
/// write, to take a write without keeping it (so the check after it fails), or to be unreadable,
/// and it counts the calls made to it.
public final class NoteBoard: Sendable {
    private struct State {
        var notes: [String: String] = [:]
        var refusing: Set<String> = []
        var notKeeping: Set<String> = []
        var unreadable = false
        var calls = 0
        var writes = 0
        var afterWrite: (@Sendable (String) -> Void)?
    }

    /// Why a call to the board failed.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let call: String
        public let message: String
        public var description: String { "\(call): \(message)" }
    }

    private let state: Mutex<State>

    public init(_ notes: [String: String] = [:]) {
        state = Mutex(State(notes: notes))
    }

    /// Every note, in one call.
    public func readAll() throws(Failure) -> [String: String] {
        try state.withLock { state throws(Failure) in
            state.calls += 1
            if state.unreadable { throw Failure(call: "GET /notes", message: "the board cannot be reached") }
            return state.notes
        }
    }

    /// Writes a note (nil removes it).
    public func write(_ key: String, _ value: String?) throws(Failure) {
        try state.withLock { state throws(Failure) in
            state.calls += 1
            if state.refusing.contains(key) { throw Failure(call: "PUT /notes/\(key)", message: "the board refuses this note") }
            state.writes += 1
            // A note the board does not keep reads back as it was.
            if !state.notKeeping.contains(key) { state.notes[key] = value }
            return state.afterWrite
        }.map { $0(key) }
    }

    // MARK: What tests do to it

    /// The notes as they are, without counting a call.
    public var notes: [String: String] { state.withLock { $0.notes } }
    public var calls: Int { state.withLock { $0.calls } }
    public var writes: Int { state.withLock { $0.writes } }

    /// Changes a note behind phoenix's back (nil removes it).
    public func editByHand(_ key: String, _ value: String?) { state.withLock { $0.notes[key] = value } }
    public func refuse(_ key: String, _ refusing: Bool = true) {
        state.withLock { if refusing { $0.refusing.insert(key) } else { $0.refusing.remove(key) } }
    }
    public func dropWrites(to key: String, _ dropping: Bool = true) {
        state.withLock { if dropping { $0.notKeeping.insert(key) } else { $0.notKeeping.remove(key) } }
    }
    public func setUnreadable(_ unreadable: Bool) { state.withLock { $0.unreadable = unreadable } }
    /// Calls `body` with the key after every write (outside the board's lock).
    public func afterWrite(_ body: @escaping @Sendable (String) -> Void) { state.withLock { $0.afterWrite = body } }
}
