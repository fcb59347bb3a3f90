/// What a token may do on the agent's API: `read` sees runs, metrics and plans; `operate` also
/// starts and approves runs.
public enum Role: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case read
    case operate

    /// Whether a holder of this role may do what needs `needed` (`operate` includes `read`).
    public func allows(_ needed: Role) -> Bool {
        switch (self, needed) {
        case (.operate, _), (.read, .read): return true
        case (.read, .operate): return false
        }
    }

    public var description: String { rawValue }
}

/// Who presented a token: the name and role its line in the tokens file gives.
public struct Identity: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }

    public var description: String { "\(name) (\(role))" }
}
