/// Why a resource differs from the configuration, as a value: a field with its two sides when
/// there is one (`memory 2048 → 4096`), otherwise the words alone.
public struct ChangeReason: Sendable, Equatable, CustomStringConvertible {
    /// The setting or field that differs (`memory`, `replicas`, `rule 3`), when one does.
    public var field: String?
    public var from: String?
    public var to: String?
    /// The reason in words, as plan prints it.
    public var text: String

    public init(_ text: String) {
        self.text = text
    }

    public init(field: String, from: String?, to: String?, text: String? = nil) {
        self.field = field
        self.from = from
        self.to = to
        self.text = text ?? "\(field): \(from ?? "(unset)") → \(to ?? "(unset)")"
    }

    public var description: String { text }
}

/// How one resource of a plan or a run ended.
public enum ResourceOutcome: Sendable, Equatable {
    /// As configured: nothing to do.
    case unchanged
    /// A plan's change, not applied (a plan, a dry run).
    case planned
    /// Changed and verified.
    case converged
    /// Not converged: why, and what became of its previous state.
    case failed(ResourceError)

    /// The word the JSON output and the agent's API use.
    public var word: String {
        switch self {
        case .unchanged: return "unchanged"
        case .planned: return "planned"
        case .converged: return "converged"
        case let .failed(error):
            if case .blocked = error.failure { return "blocked" }
            if case .cannotCheck = error.failure { return "cannot check" }
            if case .notApplied = error.failure { return "not applied" }
            if case .kept? = error.restore { return "failed" }
            if let restore = error.restore, case .restored = restore { return "restored" }
            return "failed"
        }
    }

    public var error: ResourceError? {
        if case let .failed(error) = self { return error }
        return nil
    }
}

/// One resource in a plan or a run, as every output renders it.
public struct ResourceResult: Sendable, Equatable {
    public let id: String
    public let kind: String
    public let stage: SyncStage
    public var action: ChangeAction
    public var reasons: [ChangeReason]
    public var outcome: ResourceOutcome
    /// How long its change took, and the remote calls it made (0 when it did not change).
    public var seconds: Double
    public var calls: Int

    public init(
        id: String, kind: String, stage: SyncStage, action: ChangeAction, reasons: [ChangeReason] = [], outcome: ResourceOutcome, seconds: Double = 0,
        calls: Int = 0
    ) {
        self.id = id
        self.kind = kind
        self.stage = stage
        self.action = action
        self.reasons = reasons
        self.outcome = outcome
        self.seconds = seconds
        self.calls = calls
    }

    /// Why it failed, when it did.
    public var failure: ResourceError? { outcome.error }
}
