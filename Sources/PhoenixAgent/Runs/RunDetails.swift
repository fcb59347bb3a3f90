import Foundation
import PhoenixCore

/// What an agent's run keeps beside its record (`StateBackend.annotateRun`): the commit's subject
/// and author, the plan as `plan --format json` lists it, each resource's outcome, the diagnostics
/// of an invalid commit, and the fingerprint of a plan that waits for approval. The agent's API and
/// the dashboard render it; it never holds a secret (the plan's JSON has none).
public struct RunDetails: Sendable, Equatable {
    /// One resource of the run, as the API lists it.
    public struct Resource: Sendable, Equatable {
        public var id: String
        public var kind: String
        public var outcome: String
        public var reasons: [String]
        public var seconds: Double
        /// The remote calls its change made (round trips to the systems it touched).
        public var calls: Int

        public init(_ result: ResourceResult) {
            id = result.id
            kind = result.kind
            outcome = result.outcome.word
            reasons = result.reasons.map(\.text) + (result.failure.map { [$0.description] } ?? [])
            seconds = result.seconds
            calls = result.calls
        }

        init(id: String, kind: String, outcome: String, reasons: [String], seconds: Double, calls: Int = 0) {
            self.id = id
            self.kind = kind
            self.outcome = outcome
            self.reasons = reasons
            self.seconds = seconds
            self.calls = calls
        }
    }

    public var subject: String?
    public var author: String?
    public var plan: JSONValue?
    public var resources: [Resource] = []
    public var diagnostics: [String] = []
    public var planDigest: String?
    /// The run's progress lines as `sync` prints them (the last `logLimit`).
    public var log: [String] = []

    /// The most progress lines a run keeps.
    public static let logLimit = 2_000

    public init(tree: GitTree? = nil, plan: JSONValue? = nil, diagnostics: [String] = []) {
        subject = tree?.subject
        author = tree?.author
        self.plan = plan
        self.diagnostics = diagnostics
    }

    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("version", .number(1))]
        if let subject { members.append(("subject", .string(subject))) }
        if let author { members.append(("author", .string(author))) }
        if let plan { members.append(("plan", plan)) }
        members.append(
            (
                "resources",
                .array(
                    resources.map {
                        .object([
                            ("id", .string($0.id)), ("kind", .string($0.kind)), ("outcome", .string($0.outcome)),
                            ("reasons", .array($0.reasons.map(JSONValue.string))), ("seconds", .number(($0.seconds * 1000).rounded() / 1000)),
                            ("calls", .number(Double($0.calls))),
                        ])
                    })
            ))
        if !diagnostics.isEmpty { members.append(("diagnostics", .array(diagnostics.map(JSONValue.string)))) }
        if let planDigest { members.append(("plan_digest", .string(planDigest))) }
        if !log.isEmpty { members.append(("log", .array(log.map(JSONValue.string)))) }
        return .object(members)
    }

    public func encoded() -> String { JSONWriter(sortedKeys: false, pretty: false).string(json) }

    public static func decode(_ text: String) -> RunDetails? {
        guard let value = try? JSONParser.parse(Array(text.utf8)).value, value["version"] != nil else { return nil }
        var details = RunDetails()
        details.subject = value["subject"]?.stringValue
        details.author = value["author"]?.stringValue
        details.plan = value["plan"]
        details.diagnostics = value["diagnostics"]?.arrayItems.compactMap(\.stringValue) ?? []
        details.planDigest = value["plan_digest"]?.stringValue
        details.log = value["log"]?.arrayItems.compactMap(\.stringValue) ?? []
        details.resources = (value["resources"]?.arrayItems ?? []).map {
            Resource(
                id: $0["id"]?.stringValue ?? "", kind: $0["kind"]?.stringValue ?? "", outcome: $0["outcome"]?.stringValue ?? "",
                reasons: $0["reasons"]?.arrayItems.compactMap(\.stringValue) ?? [], seconds: $0["seconds"]?.numberValue ?? 0,
                calls: Int($0["calls"]?.numberValue ?? 0))
        }
        return details
    }
}
