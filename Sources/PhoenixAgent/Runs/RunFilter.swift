import PhoenixCore
import PhoenixServices

/// The runs a person or a script asks for: by outcome, by trigger, by a stage the run changed,
/// would change or failed something in (`?outcome=failed&trigger=webhook&stage=stacks`), newest
/// first, a page at a time. The dashboard's `/runs` and the API's `/api/v1/runs` share it.
struct RunFilter: Sendable {
    var outcome: String?
    var trigger: String?
    var stage: SyncStage?

    /// The filter of a query; an empty value is no filter, an unknown stage a refusal.
    init(query: [String: String]) throws(RunFilterError) {
        func value(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }
        outcome = value("outcome")
        trigger = value("trigger")
        if let name = value("stage") {
            guard let stage = KindRegistry.standard.stage(named: name) else { throw RunFilterError(stage: name) }
            self.stage = stage
        }
    }

    var isEmpty: Bool { outcome == nil && trigger == nil && stage == nil }

    func matches(_ run: RunRecord) -> Bool {
        (outcome == nil || run.outcome == outcome) && (trigger == nil || (run.trigger?.kind.rawValue ?? RunTrigger.Kind.cli.rawValue) == trigger)
            && (stage == nil || run.stages.contains(stage!))
    }

    /// Up to `limit` matching runs older than `before`, and the id to continue before when there
    /// may be more. The store is read a page at a time until the page is full, at most 20 reads:
    /// a rare filter answers quickly with what it found and a link on.
    func page(_ store: any StateBackend, limit: Int, before: Int64?) async throws(StateError) -> (runs: [RunRecord], next: Int64?) {
        var before = before
        var found: [RunRecord] = []
        var more = true
        for _ in 0..<20 where found.count < limit && more {
            let page = try await store.runs(limit: max(limit, 50) + 1, before: before)
            more = page.count > max(limit, 50)
            let read = page.prefix(max(limit, 50))
            before = read.last?.id
            found += read.filter(matches)
        }
        let shown = Array(found.prefix(limit))
        let next = found.count > limit ? shown.last?.id : (more ? before : nil)
        return (shown, next)
    }

    /// The filter as a query string's pairs (for the next page's link).
    var query: [String] {
        [("outcome", outcome), ("trigger", trigger), ("stage", stage?.rawValue)].compactMap { name, value in
            value.map { "\(name)=\(FormData.encode($0))" }
        }
    }
}

struct RunFilterError: Error, Sendable, CustomStringConvertible {
    let stage: String
    var description: String { "stage \(stage): not a stage (\(KindRegistry.standard.stages.map(\.rawValue).joined(separator: ", ")))" }
}
