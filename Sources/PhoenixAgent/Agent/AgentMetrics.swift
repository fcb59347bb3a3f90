import Foundation
import Prometheus

/// The agent's metrics, in the Prometheus text format (swift-prometheus's registry, whose metric
/// types are swift-metrics handlers). What reveals a watcher that stopped: the polls by result and
/// the time of the last successful one; and what the runs did, by trigger and outcome.
///
/// Every family has its `# HELP` and `# TYPE` lines even before its first series.
public final class AgentMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// The families and their help, in the order `/metrics` lists those without a series yet.
    static let families: [(name: String, type: String, help: String)] = [
        ("phoenix_agent_polls_total", "counter", "Polls of the repository (git ls-remote), by result."),
        ("phoenix_agent_webhooks_total", "counter", "Webhook deliveries, by provider and result."),
        ("phoenix_runs_total", "counter", "Runs the agent performed, by trigger and outcome."),
        ("phoenix_run_duration_seconds", "histogram", "How long the agent's runs took."),
        ("phoenix_agent_last_successful_poll_timestamp_seconds", "gauge", "When the last poll of the repository succeeded (Unix time)."),
        ("phoenix_agent_pending_commit", "gauge", "1 while a run waits for the one going to finish."),
        ("phoenix_drifted_resources", "gauge", "Resources the last drift check found changed outside phoenix."),
        ("phoenix_certificate_expiry_timestamp_seconds", "gauge", "When each certificate expires (Unix time)."),
    ]

    static func help(_ name: String) -> String { families.first { $0.name == name }?.help ?? "" }

    private let lastPoll: Gauge
    private let pending: Gauge
    private let drifted: Gauge
    private let duration: ValueHistogram

    public init() {
        lastPoll = registry.makeGauge(
            name: "phoenix_agent_last_successful_poll_timestamp_seconds", help: Self.help("phoenix_agent_last_successful_poll_timestamp_seconds"))
        pending = registry.makeGauge(name: "phoenix_agent_pending_commit", help: Self.help("phoenix_agent_pending_commit"))
        drifted = registry.makeGauge(name: "phoenix_drifted_resources", help: Self.help("phoenix_drifted_resources"))
        duration = registry.makeValueHistogram(
            name: "phoenix_run_duration_seconds", buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600], help: Self.help("phoenix_run_duration_seconds"))
    }

    public func poll(succeeded: Bool, at time: Date = Date()) {
        counter("phoenix_agent_polls_total", [("result", succeeded ? "success" : "failure")]).increment()
        if succeeded { lastPoll.set(to: time.timeIntervalSince1970) }
    }

    public func webhook(provider: String, result: String) {
        counter("phoenix_agent_webhooks_total", [("provider", provider), ("result", result)]).increment()
    }

    public func run(trigger: String, outcome: String, seconds: Double) {
        counter("phoenix_runs_total", [("trigger", trigger), ("outcome", outcome)]).increment()
        duration.record(seconds)
    }

    public func pendingRun(_ waiting: Bool) { pending.set(to: waiting ? 1 : 0) }

    public func driftedResources(_ count: Int) { drifted.set(to: Double(count)) }

    public func certificateExpiry(_ name: String, at expiry: Date) {
        registry.makeGauge(
            name: "phoenix_certificate_expiry_timestamp_seconds", labels: [("name", name)],
            help: Self.help("phoenix_certificate_expiry_timestamp_seconds")
        ).set(to: expiry.timeIntervalSince1970)
    }

    /// The registry asks for the same help for every series of a family; it returns the one counter
    /// per label set.
    private func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(name: name, labels: labels, help: Self.help(name))
    }

    /// The exposition: the registry's series, then the help and type of every family that has none yet.
    public func render() -> String {
        var text = registry.emitToString()
        for family in Self.families where !text.contains("# TYPE \(family.name) ") {
            text += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
        }
        return text
    }
}
