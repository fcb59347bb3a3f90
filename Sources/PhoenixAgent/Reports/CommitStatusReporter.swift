import PhoenixCore

/// Posts commit statuses as a state machine per commit: `pending` once when the plan starts, the
/// final state once when the run ends, never the same state twice in a row, and in order (a late
/// retry of `pending` never lands after the final state). A failed post is retried with backoff,
/// then reported through `warn`; it never fails the run.
public actor CommitStatusReporter {
    /// Reads the API token, at each report (so a rotated file is picked up).
    public typealias Token = @Sendable () throws(SecretFileError) -> String

    private struct Record {
        /// The state the commit should show (the last one accepted), nil before any.
        var latest: CommitState?
        /// The last state the server took.
        var delivered: CommitState?
        var generation = 0
    }

    public let api: CommitStatusAPI
    public let context: String
    private let transport: any HTTPTransport
    private let token: Token
    private let retryDelays: [Duration]
    private let timeout: Double
    private let warn: @Sendable (String) -> Void
    private let memory: Int
    private var records: [String: Record] = [:]
    private var order: [String] = []
    private var tails: [String: (generation: Int, task: Task<Bool, Never>)] = [:]

    /// `context` is usually `CommitStatusReporter.context(estate:)`; `retryDelays` are the waits
    /// before the second, third… attempt; `memory` is how many commits are remembered.
    public init(
        api: CommitStatusAPI, transport: any HTTPTransport, context: String, token: @escaping Token,
        retryDelays: [Duration] = [.seconds(2), .seconds(10), .seconds(30)], timeout: Double = 10, memory: Int = 256,
        warn: @escaping @Sendable (String) -> Void
    ) {
        self.api = api
        self.transport = transport
        self.context = context
        self.token = token
        self.retryDelays = retryDelays
        self.timeout = timeout
        self.memory = max(1, memory)
        self.warn = warn
    }

    /// The default context: `phoenix/<estate name>`.
    public static func context(estate: String) -> String { "phoenix/\(estate)" }

    /// A token read from `path` at each report.
    public static func tokenFile(_ path: String) -> Token {
        { () throws(SecretFileError) -> String in try SecretFile.readText(path) }
    }

    /// Reports `state` for `commit` and returns once it was posted, refused by the state machine,
    /// or given up on. True when the server took it.
    @discardableResult
    public func report(commit: String, state: CommitState, description: String, targetURL: String? = nil) async -> Bool {
        let key = commit.lowercased()
        var record = records[key] ?? Record()
        let repeated = state == .pending ? (record.latest != nil || record.delivered != nil) : record.latest == state
        if repeated { return false }
        record.latest = state
        record.generation += 1
        let generation = record.generation
        remember(key, record)
        let previous = tails[key]?.task
        let task = Task {
            _ = await previous?.value
            return await self.deliver(key, state, generation: generation, description: description, targetURL: targetURL)
        }
        tails[key] = (generation, task)
        let posted = await task.value
        if tails[key]?.generation == generation { tails[key] = nil }
        return posted
    }

    private func remember(_ key: String, _ record: Record) {
        if records.updateValue(record, forKey: key) == nil {
            order.append(key)
            if order.count > memory { records[order.removeFirst()] = nil }
        }
    }

    private func deliver(_ key: String, _ state: CommitState, generation: Int, description: String, targetURL: String?) async -> Bool {
        let what = "commit status \(state.rawValue) for \(key.prefix(12)) on \(api)"
        var attempt = 0
        while records[key]?.generation == generation {
            let secret: String
            do throws(SecretFileError) {
                secret = try token()
            } catch {
                return giveUp(key, generation, "\(what) not posted: \(error)")
            }
            let request: HTTPRequestMessage
            do throws(CommitStatusAPIError) {
                request = try api.request(commit: key, state: state, context: context, description: description, targetURL: targetURL, token: secret)
            } catch {
                return giveUp(key, generation, "\(what) not posted: \(error)")
            }
            let failure: String
            let retryable: Bool
            do throws(HTTPTransportError) {
                let response = try await transport.send(request, timeout: timeout)
                if (200..<300).contains(response.status) {
                    records[key]?.delivered = state
                    return true
                }
                failure = Redaction.failure(response, hiding: [secret])
                retryable = Redaction.isRetryable(response.status)
            } catch {
                failure = Redaction.failure(error, hiding: [secret])
                retryable = true
            }
            guard retryable, attempt < retryDelays.count, !Task.isCancelled else {
                return giveUp(key, generation, "\(what) not posted after \(attempt + 1) attempt(s): \(failure)")
            }
            try? await Task.sleep(for: retryDelays[attempt])
            attempt += 1
        }
        return false
    }

    /// Logs why a post failed and lets the same state be reported again later.
    private func giveUp(_ key: String, _ generation: Int, _ message: String) -> Bool {
        warn(message)
        // Read first: an optional-chained assignment holds `records` while its right side runs.
        if let record = records[key], record.generation == generation { records[key]?.latest = record.delivered }
        return false
    }
}
