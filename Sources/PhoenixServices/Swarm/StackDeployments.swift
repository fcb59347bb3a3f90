import Foundation
import PhoenixCore
import PhoenixEngine

/// The `stacks` stage: each stack the VMs list, deployed as `<env>_<stack>` with `docker stack
/// deploy` on the manager only when its spec changed since phoenix last deployed it or its services
/// were changed on the cluster; then waited for until every service converged; and, when one does
/// not, the whole stack deployed again from the compose of the last good deploy, and reported as
/// rolled back (a failure). Stacks phoenix deployed that the configuration no longer lists are
/// removed only with `prune`.
public struct StackDeployments: Sendable {
    public let estate: Estate
    public let desired: SwarmDesired
    public var connections: SwarmConnections
    public let secrets: SecretVersions
    public let deployer: any StackDeployer
    /// `--prune`: stale services of a stack, and stacks no longer configured, are removed.
    public var prune = false
    public var timeout: Double
    public var pollInterval: Double = 0.5
    /// A service whose new tasks failed this many times is not going to converge: phoenix stops waiting.
    public var failedTaskLimit = 3
    /// The stage whose stacks these are: `stacks`, or `services` for the Portainer server's stack.
    public var stage: SyncStage = .stacks

    public init(estate: Estate, connections: SwarmConnections, deployer: any StackDeployer, secrets: SecretVersions? = nil) {
        self.estate = estate
        desired = SwarmDesired(estate: estate)
        self.connections = connections
        self.deployer = deployer
        self.secrets = secrets ?? SecretVersions(estate: estate, desired: desired)
        timeout = estate.settings.docker.convergeTimeout
    }

    public struct Item: Sendable {
        public enum Action: String, Sendable {
            case none, deploy, remove
        }

        public enum Outcome: String, Sendable {
            case planned, deployed, removed
            case rolledBack = "rolled back"
            case failed, blocked
        }

        public let id: String
        public let namespace: String
        public var action: Action
        /// Why it deploys: `never deployed`, `configuration changed: …`, `changed on the cluster by hand: …`.
        public var reasons: [String]
        /// Which side moved, as `drift` says it, and what shows it.
        public var drift: Drift = .inSync
        public var driftDetail = ""
        public var specHash: String?
        public var outcome: Outcome = .planned
        /// Why it cannot be converged as the configuration asks (found before any change), typed.
        public var problem: ResourceFailure? {
            didSet { failure = problem?.words }
        }
        /// What failed, for people: the problem found, or the run's failure.
        public var failure: String?
        /// The failing services' task errors, when the stack did not converge.
        public var serviceErrors: [String] = []
        public var deploys = 0
        public var seconds: Double = 0
        var compose: String?

        public var hasChanges: Bool { action != .none || failure != nil }
    }

    public struct Report: Sendable {
        public var items: [Item] = []
        public var error: String?
        public var calls = 0
        /// `docker stack deploy` runs (rollbacks included).
        public var deploys = 0
        public var prunedSecrets: [String] = []
        public var failures: [String: String] {
            Dictionary(items.compactMap { item in item.failure.map { (item.id, $0) } }, uniquingKeysWith: { first, _ in first })
        }
    }

    struct Observation {
        var services: [SwarmService]
        var networkNames: [String: String]
    }

    func managerClient() async throws(DockerError) -> any DockerEngine {
        guard let manager = desired.manager else { throw DockerError(endpoint: "-", call: "stacks", kind: .malformed, message: "no Swarm manager") }
        return try await connections.client(manager)
    }

    /// One list of services and one of networks for every stack. `planning`: a daemon that is not
    /// a manager yet has no stacks (the swarm stage makes it one first).
    func observe(planning: Bool = false) async throws(DockerError) -> Observation {
        let client = try await managerClient()
        let info = try await client.info()
        if planning && info.swarmState == "inactive" { return Observation(services: [], networkNames: [:]) }
        guard info.swarmState == "active", info.isManager else {
            throw DockerError(
                endpoint: client.endpointDescription, call: "GET /info", kind: .api(status: 503),
                message: "\(desired.manager?.name ?? "the manager") is not a Swarm manager (\(info.swarmState)): sync swarm first")
        }
        let services = try await client.services()
        let networks = try await client.networks()
        return Observation(services: services, networkNames: Dictionary(networks.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first }))
    }

    func items(_ observation: Observation, records: [String: StackRecord], digests: ContentDigests) -> [Item] {
        let mine = desired.stacks.filter { $0.stage == stage }
        var items: [Item] = mine.map { item(for: $0, observation: observation, record: records[$0.resourceID], digests: digests) }
        let wanted = Set(desired.stacks.map(\.resourceID))
        for record in records.values.sorted(by: { $0.id < $1.id }) where stage == .stacks && record.id.hasPrefix("stack:") && !wanted.contains(record.id) {
            var item = Item(id: record.id, namespace: record.namespace, action: prune ? .remove : .none, reasons: [])
            item.reasons = ["phoenix deployed it and the configuration no longer lists it" + (prune ? "" : ": removed only with --prune")]
            item.drift = .noLongerConfigured
            item.driftDetail = prune ? item.reasons[0] : "removed only with --prune"
            items.append(item)
        }
        return items
    }

    /// A stack's compose as deployed and its spec hash. `unnamed`: the secrets whose versions a plan
    /// without a state store key cannot name (their plain names stand in; the hash is not the one
    /// sync deploys then).
    typealias DeployForm = (compose: String, hash: String, unnamed: Set<String>)

    /// The deploy form of a stack: secrets at their versions, every service labelled with the spec hash.
    func deployForm(_ stack: SwarmDesired.Stack, digests: ContentDigests) -> Result<DeployForm, StackCompose.Failure> {
        let rendered: String
        switch stack.rendered {
        case let .success(text): rendered = text
        case let .failure(failure): return .failure(failure)
        }
        do throws(StackCompose.Failure) {
            let compose = try StackCompose(rendered)
            var versions: [String: String] = [:]
            var unnamed = Set<String>()
            for name in stack.externalSecrets {
                switch secrets.version(name, digests: digests) {
                case nil:
                    return .failure(StackCompose.Failure(message: "waits for secret \(name): \(secrets.reason(name) ?? "no source")", waiting: true))
                case let .named(versioned)?: versions[name] = versioned
                case .unnamed?: unnamed.insert(name)
                }
            }
            let unlabelled = try compose.deployForm(versions: versions, spec: nil)
            let hash = String(Digest.sha256Hex(unlabelled).prefix(16))
            return .success((try compose.deployForm(versions: versions, spec: hash), hash, unnamed))
        } catch {
            return .failure(error)
        }
    }

    func item(for stack: SwarmDesired.Stack, observation: Observation, record: StackRecord?, digests: ContentDigests) -> Item {
        var item = Item(id: stack.resourceID, namespace: stack.namespace, action: .none, reasons: [])
        let form: DeployForm
        switch deployForm(stack, digests: digests) {
        case let .success(value): form = value
        case let .failure(failure):
            // A secret this run has not made yet: planned once it exists; anything else is the configuration's.
            item.problem = failure.waiting ? .cannotCheck(reason: failure.message) : .invalid(reason: failure.message)
            item.outcome = failure.waiting ? .blocked : .failed
            item.drift = .cannotCheck
            item.driftDetail = failure.message
            return item
        }
        // A hash over stand-in secret names is not what sync deploys: not shown.
        item.specHash = form.unnamed.isEmpty ? form.hash : nil
        item.compose = form.compose
        let running = observation.services.filter { $0.stack == stack.namespace }
        guard let record else {
            item.action = .deploy
            item.reasons = [running.isEmpty ? "never deployed" : "deployed outside phoenix (no record of a deploy): deployed from the configuration"]
            item.drift = .neverApplied
            item.driftDetail = item.reasons[0]
            return item
        }
        if record.specHash != form.hash {
            var reasons: [String] = []
            if let new = try? StackCompose(form.compose), let old = try? StackCompose(record.compose) {
                for service in new.services where !old.services.contains(service) { reasons.append("service \(service) added") }
                for service in old.services where !new.services.contains(service) { reasons.append("service \(service) removed") }
                for service in new.services where old.services.contains(service) {
                    let keys = new.changedKeys(of: service, from: old)
                    guard !keys.isEmpty else { continue }
                    // Against what the Engine reports for the service now, field by field; keys
                    // the summary does not cover (a health check, a command) by name.
                    var words: [String] = []
                    if let running = running.first(where: { $0.name == "\(stack.namespace)_\(service)" }) {
                        let now = ServiceSummary(running, networkNames: observation.networkNames, digests: digests)
                        let asked = ServiceSummary(fields: new.requested(service, namespace: stack.namespace))
                        words = asked.differences(from: now, only: Set(asked.fields.keys))
                    }
                    let covered: Set<String> = ["image", "environment", "networks", "ports", "secrets"]
                    let others = keys.filter { !covered.contains($0) && !($0 == "deploy" && !words.isEmpty) }
                    reasons.append("service \(service): " + (words + others).joined(separator: ", "))
                }
                let before = Dictionary(old.externalSecrets.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first })
                for (key, name) in new.externalSecrets where before[key] != nil && before[key] != name {
                    reasons.append(
                        form.unnamed.contains(name) ? "secret \(key): a new version (\(SecretVersions.unnamedNote))" : "secret \(key): new version \(name)")
                }
                if reasons.isEmpty { reasons.append("networks, volumes or secrets") }
            }
            item.action = .deploy
            item.reasons = ["configuration changed: " + reasons.joined(separator: "; ")]
            item.drift = .configurationChanged
            item.driftDetail = reasons.joined(separator: "; ")
            return item
        }
        var drift: [String] = []
        for (name, recorded) in record.services.sorted(by: { $0.key < $1.key }) {
            guard let service = running.first(where: { $0.name == "\(stack.namespace)_\(name)" }) else {
                drift.append("service \(name) is missing")
                continue
            }
            let now = ServiceSummary(service, networkNames: observation.networkNames, digests: digests)
            if service.labels[StackCompose.specLabel] != record.specHash {
                drift.append("service \(name) carries another spec label")
            } else if let then = ServiceSummary(text: recorded), now != then {
                drift.append("service \(name): " + now.differences(from: then).joined(separator: ", "))
            }
        }
        if !drift.isEmpty {
            item.action = .deploy
            item.reasons = ["changed on the cluster by hand: " + drift.joined(separator: "; ")]
            item.drift = .changedByHand
            item.driftDetail = drift.joined(separator: "; ")
        }
        return item
    }
}
