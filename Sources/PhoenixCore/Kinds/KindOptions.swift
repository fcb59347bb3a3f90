/// A setting of one kind that a command sets and the kind reads (`--firewall-through api`,
/// `--force NAME`, `--prune`): declared in the kind's own folder as a key with its default, so a
/// run's environment and the graph's context carry every kind's settings without naming any.
///
/// ```swift
/// public enum ForceRenewal: KindOption { public static let defaultValue: Set<String> = [] }
/// environment.options[ForceRenewal.self] = ["gateway.internal"]
/// ```
public protocol KindOption {
    associatedtype Value: Sendable
    static var defaultValue: Value { get }
}

/// The kinds' settings of one run, by key; a key not set reads as its default.
public struct KindOptions: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    public subscript<Key: KindOption>(_ key: Key.Type) -> Key.Value {
        get { values[ObjectIdentifier(key)] as? Key.Value ?? Key.defaultValue }
        set { values[ObjectIdentifier(key)] = newValue }
    }
}
