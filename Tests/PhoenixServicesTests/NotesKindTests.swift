import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// The test-only notes kind (PhoenixTesting/NotesKind) through the sync service and the executor:
/// the proof that a kind is its own folder and one registration. No real component: the note board
/// is an in-memory system, the state store the in-memory double.
@Suite("A kind on the executor: the test-only notes kind")
struct NotesKindTests {
    /// A small valid estate (the kinds here ignore it; the service needs one).
    static let estate: Estate = {
        let result = EstateLoader().load(SyntheticEstate(guests: 2, rules: 2, stacks: 0, certificates: 0).sources())
        return result.estate!
    }()

    static let three: [String: NotesKind.Note] = ["a": .init("alpha"), "b": .init("beta", needs: ["note:a"]), "c": .init("gamma")]

    /// The notes kind's one registration: all it takes to join the kinds phoenix runs.
    static func registration(_ board: NoteBoard, _ desired: [String: NotesKind.Note]) -> KindRegistration {
        let kind = NotesKind(board: board, desired: desired)
        return KindRegistration(kind: kind) { environment in
            guard environment.asks(kind.stage) else { return .none }
            return KindSetup(runner: ExecutedRunner(kind, executor: environment.executor()))
        }
    }

    /// The sync service assembled from the standard kinds plus the notes kind, for its own `notes`
    /// stage: the standard kinds stand aside, the notes kind runs.
    static func service(
        _ board: NoteBoard, _ desired: [String: NotesKind.Note] = three, failpoints: String? = nil, parallelism: Int = 4
    ) async -> SyncService {
        var environment = KindEnvironment(estate: estate, stages: [.notes], stats: RunStats())
        environment.failpoints = Failpoints(failpoints)
        environment.failpoints.crashInProcess = true
        environment.parallelism = parallelism
        let service = await SyncService.assemble(environment, registry: KindRegistry.standard.adding(registration(board, desired)))
        #expect(service.runners.map(\.kind.name) == ["note"], "only the registered test kind takes part")
        return service
    }

    static func results(_ outcome: SyncService.Outcome) -> [String: ResourceResult] {
        Dictionary(uniqueKeysWithValues: outcome.reports.flatMap(\.results).map { ($0.id, $0) })
    }

    @Test("a kind's own stage comes with its registration: listed in its place, found by name, its resources drawn in it")
    func ownStage() throws {
        let registry = KindRegistry.standard.adding(Self.registration(NoteBoard(), Self.three))
        #expect(KindRegistry.standard.stage(named: "notes") == nil, "no standard kind converges notes")
        #expect(registry.stage(named: "notes") == .notes)
        #expect(
            registry.stages.map(\.rawValue) == ["guests", "files", "trust", "dns", "firewall", "certs", "swarm", "services", "notes", "gateway", "stacks"])
        let graph = registry.graph(estate: Self.estate, stages: [.notes], options: KindOptions())
        #expect(graph.nodes.map(\.id) == ["note:a", "note:b", "note:c"] && graph.nodes.allSatisfy { $0.stage == .notes })
        #expect(SyncStage(named: "notes") == .notes, "a run's stages are read back by name")
    }

    @Test("plan lists each change with its typed reason and changes nothing: no write, no run, no record")
    func plan() async throws {
        let board = NoteBoard(["a": "old"])
        let store = InMemoryStateStore()
        let outcome = try await Self.service(board).plan(store: store)
        let results = Self.results(outcome)
        #expect(results.keys.sorted() == ["note:a", "note:b", "note:c"])
        #expect(results["note:a"]?.action == .update && results["note:a"]?.outcome == .planned)
        #expect(results["note:a"]?.reasons == [ChangeReason(field: "text", from: "old", to: "alpha")])
        #expect(results["note:b"]?.action == .create)
        #expect(outcome.hasChanges)
        #expect(board.writes == 0 && board.notes == ["a": "old"])
        await #expect(try store.runs().isEmpty)
        await #expect(try store.kindRecords("note").isEmpty)
    }

    @Test("sync converges every note, journals each phase, records it; the next sync changes nothing")
    func syncThenNoOp() async throws {
        let board = NoteBoard()
        let store = InMemoryStateStore()
        let service = await Self.service(board)
        let first = try await service.sync(store: store, command: "sync services")
        #expect(first.succeeded)
        #expect(board.notes == ["a": "alpha", "b": "beta", "c": "gamma"])
        #expect(Self.results(first).values.map(\.outcome.word).sorted() == ["converged", "converged", "converged"])
        let run = try #require(first.run)
        let phases = try store.journal(run: run).filter { $0.resource == "note:b" }.map(\.phase)
        #expect(phases == [.intent, .applied, .verified])
        await #expect(try store.kindRecords("note").mapValues(\.value) == ["note:a": "alpha", "note:b": "beta", "note:c": "gamma"])
        #expect(service.stats[.writes] == 3)
        #expect(service.stats[.machineCalls] >= 1 + 3 * 2, "one observe, then a write and a read-back per note: \(service.stats[.machineCalls])")

        let writes = board.writes
        let second = try await Self.service(board).sync(store: store, command: "sync services")
        #expect(second.succeeded && !second.hasChanges)
        #expect(board.writes == writes, "a no-op writes nothing")
        await #expect(try store.runs().first?.outcome == "no changes")
    }

    @Test("a note whose write does not take fails its check: the previous note is back, what needs it is blocked, the rest converge")
    func restoreOnFailedVerification() async throws {
        let board = NoteBoard(["a": "before"])
        board.dropWrites(to: "a")
        let store = InMemoryStateStore()
        let outcome = try await Self.service(board).sync(store: store, command: "sync services")
        #expect(!outcome.succeeded)
        let results = Self.results(outcome)
        let a = try #require(results["note:a"]?.failure)
        #expect(a.failure == .verificationFailed(check: "reading note:a back", seen: "it holds 'before'"))
        #expect(a.restore == .restored("the previous note is back"))
        #expect(results["note:a"]?.outcome.word == "restored")
        let b = try #require(results["note:b"]?.failure)
        #expect(b.failure == .blocked(dependency: "note:a", reason: a.description))
        #expect(results["note:c"]?.outcome == .converged)
        #expect(board.notes == ["a": "before", "c": "gamma"])
        let journal = try store.journal(run: try #require(outcome.run))
        #expect(journal.filter { $0.resource == "note:a" }.map(\.phase) == [.intent, .applied, .restored])
        #expect(journal.filter { $0.resource == "note:b" }.isEmpty, "a blocked note is never attempted")
        await #expect(try store.kindRecords("note")["note:a"] == nil, "nothing unverified is recorded")
        await #expect(try store.runs().first?.outcome == "rolled back", "every failed change was undone")
    }

    @Test("a write the system refuses is a typed refusal naming the call; the previous note is put back")
    func refused() async throws {
        let board = NoteBoard()
        board.refuse("c")
        let outcome = try await Self.service(board).sync(store: InMemoryStateStore(), command: "sync services")
        let c = try #require(Self.results(outcome)["note:c"]?.failure)
        #expect(c.failure.category == "refused" && c.failure.responsibility == .operator)
        #expect(c.description.contains("PUT /notes/c") && c.description.contains("refuses"), "\(c)")
        #expect(Self.results(outcome)["note:a"]?.outcome == .converged)
    }

    @Test("a kind that cannot observe fails every resource with the reason: never a clean plan")
    func unobservable() async throws {
        let board = NoteBoard()
        board.setUnreadable(true)
        let outcome = try await Self.service(board).plan(store: InMemoryStateStore())
        let report = try #require(outcome.reports.first)
        #expect(report.error?.contains("the board cannot be reached") == true, "\(report.error ?? "nil")")
        #expect(!outcome.succeeded)
    }

    static let failpoints: [String] = ["note:a:before:crash", "note:a:after:crash", "note:b:before:crash", "note:b:after:crash"]

    @Test("a crash at each failpoint leaves the run open; the next run reports it interrupted, resumes and converges", arguments: failpoints)
    func crash(_ failpoint: String) async throws {
        let board = NoteBoard(["a": "old-a", "b": "old-b"])
        let store = InMemoryStateStore()
        await #expect(throws: SyncService.RunAbandoned.self) {
            _ = try await Self.service(board, failpoints: failpoint, parallelism: 1).sync(store: store, command: "sync services")
        }
        // What a crash leaves: before the change the note is as it was; after it, already the new one.
        let note = failpoint.hasPrefix("note:a") ? "a" : "b"
        let new = note == "a" ? "alpha" : "beta"
        #expect(board.notes[note] == (failpoint.contains(":after:") ? new : "old-\(note)"), "\(board.notes)")
        await #expect(try store.runs().first?.outcome == "running")
        store.abandonHolder()

        let resumed = try await Self.service(board).sync(store: store, command: "sync services")
        #expect(resumed.succeeded)
        #expect(resumed.interrupted.map(\.id) == [1])
        #expect(board.notes == ["a": "alpha", "b": "beta", "c": "gamma"])
        #expect(try store.unfinishedResources(in: [2]).isEmpty)
        let after = try await Self.service(board).plan(store: store)
        #expect(!after.hasChanges, "nothing left to do")
    }

    @Test(
        "an injected error before a change changes nothing; after it, the previous note is put back; either way the run ends, typed, and what needs it is blocked",
        arguments: ["note:a:before:error", "note:a:after:error"])
    func injectedError(_ failpoint: String) async throws {
        let board = NoteBoard(["a": "old-a", "b": "old-b"])
        let store = InMemoryStateStore()
        let outcome = try await Self.service(board, failpoints: failpoint, parallelism: 1).sync(store: store, command: "sync services")
        #expect(!outcome.succeeded)
        let results = Self.results(outcome)
        let a = try #require(results["note:a"]?.failure)
        guard case let .injected(name) = a.failure, name.hasPrefix("note:a ") else {
            Issue.record("note:a failed otherwise: \(a)")
            return
        }
        #expect(a.restore == (failpoint.contains(":before:") ? .nothingChanged : .restored("the previous note is back")), "\(a)")
        #expect(board.notes["a"] == "old-a", "the note is as it was: \(board.notes)")
        guard case .blocked(dependency: "note:a", _)? = results["note:b"]?.failure?.failure else {
            Issue.record("note:b needs note:a: \(results["note:b"].map { "\($0.outcome)" } ?? "not in the run")")
            return
        }
        #expect(results["note:c"]?.outcome == .converged && board.notes["c"] == "gamma")
        // An injected error ends the run (unlike a crash); nothing of a's change stays, so what ran before serves again.
        let run = try await #require(try store.runs().first)
        #expect(run.outcome == "rolled back", "\(run)")
        let phases = try store.journal(run: 1).filter { $0.resource == "note:a" }.map(\.phase)
        #expect(phases.last == (failpoint.contains(":before:") ? .failed : .restored), "\(phases)")
    }

    @Test("drift says which side moved: by hand, in the configuration, never applied, no longer configured")
    func drift() async throws {
        let board = NoteBoard()
        let store = InMemoryStateStore()
        _ = try await Self.service(board).sync(store: store, command: "sync services")
        #expect(try await Self.service(board).drift(store: store).flatMap(\.drifted).isEmpty)
        board.editByHand("a", "scribbled")
        var desired = Self.three
        desired["c"] = .init("gamma 2")
        desired["d"] = .init("delta")
        desired["b"] = nil
        board.editByHand("d", "delta")
        let drifts = try await Self.service(board, desired).drift(store: store)
        let states = Dictionary(uniqueKeysWithValues: drifts.flatMap(\.findings).map { ($0.id, $0.state) })
        #expect(states == ["note:a": .changedByHand, "note:b": .noLongerConfigured, "note:c": .configurationChanged, "note:d": .inSync])
        board.setUnreadable(true)
        let unreadable = try await Self.service(board).drift(store: store)
        #expect(unreadable.first?.failure != nil, "a drift check that cannot read is a failure, not 'in sync'")
    }

    @Test("rollback puts back what an earlier run left: changed notes back, removed ones restored, newer ones removed")
    func rollback() async throws {
        let board = NoteBoard()
        let store = InMemoryStateStore()
        let first = try await Self.service(board, ["a": .init("one"), "b": .init("bee")]).sync(store: store, command: "sync services")
        let second = try await Self.service(board, ["a": .init("two"), "c": .init("sea")]).sync(store: store, command: "sync services")
        #expect(first.succeeded && second.succeeded)
        #expect(board.notes == ["a": "two", "c": "sea"])
        let back = try await Self.service(board, ["a": .init("two"), "c": .init("sea")]).rollback(
            to: try #require(first.run), store: store, command: "rollback 1")
        #expect(back.succeeded, "\(back.reports.flatMap(\.failures))")
        #expect(board.notes == ["a": "one", "b": "bee"])
        await #expect(try store.runs().first?.command == "rollback 1")
        #expect(try store.journal(run: try #require(second.run)).allSatisfy { $0.kind == "note" }, "the journal names the kind that wrote it")
        #expect(try store.journal(run: try #require(second.run)).isEmpty == false)
    }

    @Test("a rollback puts back a resource that needs one of a kind without a rollback: that kind leaves its resources as they are, it blocks nothing")
    func rollbackBesideAKindWithout() async throws {
        let board = NoteBoard()
        let store = InMemoryStateStore()
        let needing: [String: NotesKind.Note] = ["b": .init("bee", needs: ["plain:x"])]
        let first = try await Self.service(board, needing).sync(store: store, command: "sync services")
        _ = try await Self.service(board, ["b": .init("bumble", needs: ["plain:x"])]).sync(store: store, command: "sync services")
        #expect(board.notes == ["b": "bumble"])
        var service = await Self.service(board, needing)
        service.runners.append(PlainRunner())
        let back = try await service.rollback(to: try #require(first.run), store: store, command: "rollback 1")
        #expect(back.succeeded, "\(back.reports.flatMap(\.failures))")
        #expect(board.notes == ["b": "bee"], "note:b was put back, not blocked by plain:x")
    }

    @Test("a run asked to stop finishes the resource it started, starts no other, ends superseded; the next run converges the rest")
    func stopAtBoundary() async throws {
        let board = NoteBoard()
        let store = InMemoryStateStore()
        let control = RunControl()
        // One at a time, so there is a boundary after the first write; the stop comes mid-run.
        board.afterWrite { _ in control.stop(.superseded(by: "c2")) }
        var service = await Self.service(board, parallelism: 1)
        service.control = control
        let stopped = try await service.sync(store: store, command: "agent")
        #expect(stopped.stopped == .superseded(by: "c2"))
        #expect(board.writes == 1 && board.notes.count == 1, "only the resource that had started: \(board.notes)")
        let results = Self.results(stopped)
        #expect(results.values.filter { $0.outcome.word == "converged" }.count == 1)
        let notStarted = results.values.compactMap { $0.failure?.failure }.filter { $0.category == "stopped" }
        #expect(notStarted.count == 2, "\(results)")
        let run = try #require(stopped.run)
        #expect(try store.run(run)?.outcome == "superseded")
        // What did not start was never announced: nothing is left unfinished for the next run.
        #expect(try store.unfinishedResources(in: [run]).isEmpty)

        board.afterWrite { _ in }
        let next = try await Self.service(board).sync(store: store, command: "agent")
        #expect(next.succeeded && board.notes == ["a": "alpha", "b": "beta", "c": "gamma"])
        #expect(board.writes == 3)
    }

    @Test("what a kind without a rollback (or not in the run) changed since is said to stay as it is, from the journal's kinds; never a silent success")
    func noRollback() async throws {
        let store = InMemoryStateStore()
        // Run 1 changed nothing; run 2 changed plain:x (the plain kind), run 3 old:y (a kind not in this run).
        for (resource, kind) in [("", ""), ("plain:x", "plain"), ("old:y", "old")] {
            let (run, _) = try await store.beginRun(command: "sync services")
            if !resource.isEmpty { try await store.journal(run: run, resource: resource, kind: kind, phase: .verified) }
            try await store.finishRun(run, outcome: .succeeded, summary: "")
        }
        var service = await Self.service(NoteBoard())
        service.runners = [PlainRunner()]
        let outcome = try await service.rollback(to: 1, store: store, command: "rollback 1")
        #expect(
            outcome.notRestored == [
                "plain:x (changed since run 1) stay as they are: the plain kind has no rollback",
                "old:y (changed since run 1) stay as they are: the old kind does not run here",
            ], "\(outcome.notRestored)")
        let later = try await service.rollback(to: 2, store: store, command: "rollback 2")
        #expect(
            later.notRestored == ["old:y (changed since run 2) stay as they are: the old kind does not run here"], "what run 2 itself changed is as it left it")
        let quiet = try await service.rollback(to: 3, store: store, command: "rollback 3")
        #expect(quiet.notRestored.isEmpty, "nothing changed since run 3: nothing to say")
    }
}

/// A runner with no rollback of its own.
private struct PlainRunner: KindRunner {
    struct Kind: ResourceKind {
        let name = "plain"
        let stages: [SyncStage] = [.services]
        func nodes(in context: ResourceGraphContext) -> [ResourceNode] { [ResourceNode(id: "plain:x", kind: name, stage: .services, target: .host)] }
    }
    var kind: any ResourceKind { Kind() }
    func plan(_ context: KindContext) async throws -> any KindReport { fatalError("not planned here") }
    func sync(_ context: RunContext) async throws -> any KindReport { fatalError("not synced here") }
}
