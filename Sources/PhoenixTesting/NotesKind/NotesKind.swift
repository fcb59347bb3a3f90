import PhoenixCore

extension SyncStage {
    /// The notes kind's own stage (`phoenix sync notes`), between the services and the gateway.
    public static let notes = SyncStage("notes", rank: 850)
}

/// A test-only kind: the notes of a `NoteBoard`, one resource `note:<name>` per note. It exists to
/// prove that a kind is one folder and one registration: it implements the kind protocol and
/// nothing else, and goes through plan, sync, drift, crashes with resume, restore and rollback on
/// the executor (Tests/PhoenixServicesTests/NotesKindTests.swift).
public struct NotesKind: DriftingKind, RollbackKind {
    /// One note the configuration asks for: its text, and the resources it needs first.
    public struct Note: Sendable, Equatable {
        public var text: String
        public var needs: [String]

        public init(_ text: String, needs: [String] = []) {
            self.text = text
            self.needs = needs
        }
    }

    /// What a step does to one note: its text before (nil: absent) and after (nil: remove it).
    public struct Change: Sendable, Equatable {
        public let name: String
        public let before: String?
        public let after: String?
    }

    public let name = "note"
    public let stage: SyncStage
    public let board: NoteBoard
    /// The notes the configuration asks for, by name.
    public let desired: [String: Note]

    public init(board: NoteBoard, desired: [String: Note], stage: SyncStage = .notes) {
        self.board = board
        self.desired = desired
        self.stage = stage
    }

    public static func id(_ name: String) -> String { "note:\(name)" }
    static func name(of id: String) -> String { String(id.dropFirst("note:".count)) }

    // MARK: Resources

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(stage) else { return [] }
        return desired.keys.sorted().map { ResourceNode(id: Self.id($0), kind: name, stage: stage, target: .host, dependsOn: desired[$0]!.needs) }
    }

    // MARK: Observe and plan

    public struct Observation: Sendable {
        let notes: [String: String]
        /// What phoenix last recorded of each note, by resource id.
        let recorded: [String: KindRecord]
    }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        let notes: [String: String]
        do throws(NoteBoard.Failure) { notes = try board.readAll() } catch {
            throw .refused(system: "the note board", call: error.call, message: error.description)
        }
        context.stats.count(.machineCalls)
        do {
            return await Observation(notes: notes, recorded: try context.store?.kindRecords(name) ?? [:])
        } catch {
            throw .cannotCheck(reason: "the state store: \(error)")
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Change> {
        var plan = KindPlan<Change>()
        for key in desired.keys.sorted() {
            let id = Self.id(key)
            let wanted = desired[key]!.text
            let actual = observation.notes[key]
            if actual == wanted {
                plan.unchanged.append(id)
            } else {
                plan.steps.append(step(key, before: actual, after: wanted))
            }
        }
        // Phoenix removes only the notes it wrote: those it recorded that the configuration dropped.
        for id in observation.recorded.keys.sorted() where desired[Self.name(of: id)] == nil {
            let key = Self.name(of: id)
            if let actual = observation.notes[key] { plan.steps.append(step(key, before: actual, after: nil)) }
        }
        return plan
    }

    func step(_ key: String, before: String?, after: String?) -> Step<Change> {
        let action: ChangeAction = after == nil ? .delete : before == nil ? .create : .update
        return Step(
            resources: [Self.id(key)], target: "board", action: action, reasons: [ChangeReason(field: "text", from: before, to: after)],
            previousDigest: before.map(Digest.sha256Hex), newDigest: after.map(Digest.sha256Hex), detail: action.rawValue,
            change: Change(name: key, before: before, after: after))
    }

    // MARK: Apply, verify, restore, record

    public func apply(_ step: Step<Change>, prepared: Void, in context: StepContext) async throws(ResourceFailure) {
        context.stats.count(.machineCalls)
        do throws(NoteBoard.Failure) { try board.write(step.change.name, step.change.after) } catch {
            throw .refused(system: "the note board", call: error.call, message: error.description)
        }
        context.stats.count(.writes)
    }

    public func verify(_ step: Step<Change>, applied: Void, in context: StepContext) async throws(ResourceFailure) {
        context.stats.count(.machineCalls)
        let now: [String: String]
        do throws(NoteBoard.Failure) { now = try board.readAll() } catch { throw .cannotCheck(reason: error.description) }
        guard now[step.change.name] == step.change.after else {
            throw .verificationFailed(check: "reading \(step.id) back", seen: "it holds \(now[step.change.name].map { "'\($0)'" } ?? "nothing")")
        }
    }

    public func restore(_ step: Step<Change>, applied: Void?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome? {
        context.stats.count(.machineCalls)
        do throws(NoteBoard.Failure) {
            try board.write(step.change.name, step.change.before)
            return .restored("the previous note is back")
        } catch {
            return .failed(attempt: "putting the previous note back", reason: error.description)
        }
    }

    public func record(_ step: Step<Change>, applied: Void, in context: StepContext) async throws(ResourceFailure) {
        do { try await context.store.recordKind(name, resource: step.id, value: step.change.after, run: context.run) } catch {
            throw .cannotCheck(reason: "the state store: \(error)")
        }
    }

    // MARK: Drift and rollback

    public func drift(_ observation: Observation, in context: KindContext) -> KindDrift? {
        let findings = driftFindings(observation)
        return KindDrift(
            kind: name, findings: findings, member: "notes",
            entries: findings.map { .object([("id", .string($0.id)), ("drift", .string($0.state.rawValue))]) },
            lines: findings.filter(\.state.isDrift).map { "\($0.state.rawValue): \($0.id) \($0.detail)" })
    }

    func driftFindings(_ observation: Observation) -> [DriftFinding] {
        var findings: [DriftFinding] = []
        let ids = Set(desired.keys.map(Self.id)).union(observation.recorded.keys)
        for id in ids.sorted() {
            let key = Self.name(of: id)
            let actual = observation.notes[key]
            let state: Drift
            if desired[key] == nil {
                state = actual == nil ? .inSync : .noLongerConfigured
            } else {
                state = Drift(actual: actual, applied: observation.recorded[id]?.value, desired: desired[key]?.text)
            }
            findings.append(DriftFinding(id: id, kind: name, state: state, detail: state.isDrift ? "holds \(actual.map { "'\($0)'" } ?? "nothing")" : ""))
        }
        return findings
    }

    public func rollback(to run: Int64, _ observation: Observation, in context: KindContext) async throws(ResourceFailure) -> KindPlan<Change> {
        let then: [String: KindRecord]
        do { then = try await context.store?.kindRecords(name, asOf: run) ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        var plan = KindPlan<Change>()
        for id in Set(then.keys).union(observation.recorded.keys).sorted() {
            let key = Self.name(of: id)
            let wanted = then[id]?.value
            if observation.notes[key] == wanted {
                plan.unchanged.append(id)
            } else {
                plan.steps.append(step(key, before: observation.notes[key], after: wanted))
            }
        }
        return plan
    }
}
