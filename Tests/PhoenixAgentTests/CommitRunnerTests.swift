import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Synchronization
import Testing

/// The agent's runs end to end below the server: a real git repository (the remote is a bare
/// repository on disk, read through the system git), the example estate committed to it, the state
/// store in memory, and the test-only notes kind standing in for the systems (its desired notes come
/// from `notes.json` in the commit, so a commit changes what converges).
@Suite("The agent's runs: one commit, validated, planned, applied", .needs(.git))
struct CommitRunnerTests {
    final class Lab: Sendable {
        let fixture: GitFixture
        let work: TemporaryDirectory
        let board = NoteBoard()
        let store = InMemoryStateStore()
        let runner: CommitRunner
        let queue: RunQueue

        init(signatures: SignatureCheck? = nil) throws {
            fixture = try GitFixture()
            work = try TemporaryDirectory("phoenix-agent-runs")
            let git = try makeGit(fixture.served, work: work, signatures: signatures)
            let board = board
            let services = AgentServices(
                load: { etc, stacks in
                    EstateLoader(stages: SyncStage.original + [.notes]).load(ConfigReader(configDirectory: etc, stacksDirectory: stacks).read())
                },
                lease: { estate, _, stacks in
                    // The notes the commit asks for, beside its stacks directory.
                    let data = FileManager.default.contents(atPath: "\(stacks)/../notes.json") ?? Data("{}".utf8)
                    let texts = (try? JSONSerialization.jsonObject(with: data) as? [String: String]) ?? [:]
                    let kind = NotesKind(board: board, desired: texts.mapValues { NotesKind.Note($0) })
                    var environment = KindEnvironment(estate: estate, stages: [.notes], stats: RunStats())
                    environment.parallelism = 2
                    let registration = KindRegistration(kind: kind) { environment in
                        KindSetup(runner: ExecutedRunner(kind, executor: environment.executor()))
                    }
                    let service = await SyncService.assemble(environment, registry: KindRegistry([registration]))
                    return AgentServices.Lease(service: service, release: {})
                })
            runner = CommitRunner(
                settings: .init(branch: "main", verifySignatures: signatures != nil, lockRetry: 0.1), git: git, store: store, services: services)
            queue = RunQueue(store: store)
        }

        /// The example estate's files, with `hypervisor` edits, and the notes.
        func commit(
            _ message: String, notes: [String: String], edit: (inout [String: Any]) -> Void = { _ in }, broken: Bool = false, signing: [String]? = nil
        ) throws -> String {
            var files: [String: String] = [:]
            let example = TestPaths.exampleEstate
            for directory in ["etc", "stacks"] {
                let base = "\(example)/\(directory)"
                for relative in (FileManager.default.enumerator(atPath: base)?.allObjects as? [String]) ?? [] {
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: "\(base)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                    files["\(directory)/\(relative)"] = try String(contentsOfFile: "\(base)/\(relative)", encoding: .utf8)
                }
            }
            let hypervisorPath = "etc/phoenix_hypervisor_config.json"
            var hypervisor = try #require(try JSONSerialization.jsonObject(with: Data(files[hypervisorPath]!.utf8)) as? [String: Any])
            edit(&hypervisor)
            files[hypervisorPath] = String(decoding: try JSONSerialization.data(withJSONObject: hypervisor, options: [.sortedKeys]), as: UTF8.self)
            if broken { files[hypervisorPath] = "{\"version\": 1,, }" }
            files["notes.json"] = String(decoding: try JSONSerialization.data(withJSONObject: notes, options: [.sortedKeys]), as: UTF8.self)
            return try fixture.commit(message, files: files, signing: signing)
        }

        /// Queues a request and performs it, as the agent's loop does.
        func run(_ request: RunQueue.Request) async throws -> CommitRun {
            let ticket = try await queue.submit(request)
            let job = try #require(await queue.next())
            #expect(job.run == ticket.run)
            let result = await runner.perform(job)
            await queue.finished(job.run)
            return result
        }

        func details(_ run: Int64) throws -> RunDetails {
            try #require(try store.runDetails(run).flatMap(RunDetails.decode), "run \(run) has details")
        }
    }

    @Test("a new commit is planned, recorded with its plan and applied; the same head again is no run's work; an invalid commit applies nothing")
    func commitToProduction() async throws {
        let lab = try Lab()
        let first = try lab.commit("two notes", notes: ["a": "alpha", "b": "beta"])
        let applied = try await lab.run(.init(RunTrigger(.poll)))
        #expect(applied.outcome == .succeeded, "\(applied.summary)")
        #expect(applied.commit == first && applied.previousCommit == nil)
        #expect(lab.board.notes == ["a": "alpha", "b": "beta"])
        let record = try #require(try lab.store.run(applied.run))
        #expect(record.outcome == "succeeded" && record.commit == first && record.trigger == RunTrigger(.poll))
        let details = try lab.details(applied.run)
        #expect(details.subject == "two notes" && details.author?.hasPrefix("Test Author") == true, "\(String(describing: details.author))")
        #expect(details.resources.map(\.id).sorted() == ["note:a", "note:b"])
        #expect(details.resources.allSatisfy { $0.outcome == "converged" } && !details.resources.isEmpty)
        let planned = details.plan?["note"]?["resources"]?.arrayItems.compactMap { $0["id"]?.stringValue } ?? []
        #expect(planned.sorted() == ["note:a", "note:b"], "the plan as plan --format json lists it: \(String(describing: details.plan))")
        #expect(try lab.store.lastAppliedCommit()?.commit == first)

        // A webhook for what is applied already: nothing to plan.
        let writes = lab.board.writes
        let again = try await lab.run(.init(RunTrigger(.webhook, provider: "github", delivery: "d-2")))
        #expect(again.outcome == .noChanges && again.summary.contains("applied already"), "\(again.summary)")
        #expect(lab.board.writes == writes)

        // An invalid commit: a failure with every diagnostic, nothing applied, what runs stays.
        let broken = try lab.commit("broken", notes: ["a": "changed"], broken: true)
        let refused = try await lab.run(.init(RunTrigger(.poll)))
        #expect(refused.outcome == .failed && refused.commit == broken)
        #expect(refused.diagnostics.contains { $0.hasPrefix("etc/phoenix_hypervisor_config.json") }, "\(refused.diagnostics)")
        #expect(try lab.details(refused.run).diagnostics == refused.diagnostics)
        #expect(lab.board.notes == ["a": "alpha", "b": "beta"] && lab.board.writes == writes)
        #expect(try lab.store.run(refused.run)?.outcome == "failed")
        #expect(try lab.store.lastAppliedCommit()?.commit == first)

        // The fix converges, and names the last applied commit as the one before it.
        let fixed = try lab.commit("fixed", notes: ["a": "changed", "b": "beta"])
        let converged = try await lab.run(.init(RunTrigger(.poll)))
        #expect(converged.outcome == .succeeded && converged.commit == fixed && converged.previousCommit == first)
        #expect(lab.board.notes == ["a": "changed", "b": "beta"])
    }

    @Test("changes to a stage in phoenix.agent.approve wait for a person; an approval applies the plan it saw, and plans again when it changed")
    func approval() async throws {
        let lab = try Lab()
        let approve: (inout [String: Any]) -> Void = { root in
            var phoenix = root["phoenix"] as? [String: Any] ?? [:]
            phoenix["agent"] = ["approve": ["notes"]]
            root["phoenix"] = phoenix
        }
        _ = try lab.commit("gated", notes: ["a": "alpha"], edit: approve)
        let waiting = try await lab.run(.init(RunTrigger(.poll)))
        #expect(waiting.outcome == .waitingForApproval, "\(waiting.summary)")
        #expect(waiting.summary.contains("phoenix agent approve \(waiting.run)"))
        #expect(lab.board.notes.isEmpty && lab.board.writes == 0, "nothing applied before the approval")
        #expect(try lab.details(waiting.run).planDigest != nil)

        // Something changes between the plan and the approval: the approval plans again and waits.
        lab.board.editByHand("a", "by hand")
        let replanned = try await lab.run(.init(RunTrigger(.approval, actor: "ops"), approving: waiting.run))
        #expect(replanned.outcome == .waitingForApproval && replanned.summary.contains("the plan changed since run \(waiting.run)"), "\(replanned.summary)")
        #expect(lab.board.notes == ["a": "by hand"])

        // Approving the run whose plan still holds applies it.
        let approved = try await lab.run(.init(RunTrigger(.approval, actor: "ops"), approving: replanned.run))
        #expect(approved.outcome == .succeeded, "\(approved.summary)")
        #expect(lab.board.notes == ["a": "alpha"])
        #expect(try lab.store.run(approved.run)?.trigger == RunTrigger(.approval, actor: "ops"))
    }

    @Test(
        "--verify-commits: every commit since the last applied one must be signed by an allowed signer; an unsigned one is refused by name",
        .needs(.openSSH))
    func signedCommits() async throws {
        let keys = try TemporaryDirectory("phoenix-agent-signers")
        let signer = try SystemGitSignatureTests.SSHSigner(keys, name: "release", allowed: true)
        let lab = try Lab(signatures: .ssh(allowedSigners: keys.file("allowed_signers")))
        let signed = try lab.commit("signed", notes: ["a": "alpha"], signing: signer.signing)
        let applied = try await lab.run(.init(RunTrigger(.poll)))
        #expect(applied.outcome == .succeeded && applied.commit == signed, "\(applied.summary)")

        // An unsigned commit, then a signed one on top: the range holds the unsigned one.
        let unsigned = try lab.commit("unsigned", notes: ["a": "changed"])
        _ = try lab.commit("signed again", notes: ["a": "changed twice"], signing: signer.signing)
        let refused = try await lab.run(.init(RunTrigger(.poll)))
        #expect(refused.outcome == .failed && refused.summary.contains("refused") && refused.summary.contains(unsigned), "\(refused.summary)")
        #expect(lab.board.notes == ["a": "alpha"], "nothing of a refused range is applied")
    }

    @Test("a person's run holding the lock is waited for: the agent's run applies once it ends")
    func waitsForAPerson() async throws {
        let lab = try Lab()
        let commit = try lab.commit("one note", notes: ["a": "alpha"])
        let (person, _) = try await lab.store.beginRun(command: "sync all", user: "ops", host: ProcessInfo.processInfo.hostName)
        let ticket = try await lab.queue.submit(.init(RunTrigger(.poll)))
        let job = try #require(await lab.queue.next())
        var runner = lab.runner
        // The runner says when it finds the lock held: the condition waited for, not a sleep.
        let said = Mutex<[String]>([])
        runner.log = { line in said.withLock { $0.append(line) } }
        let performing = Task { [runner] in await runner.perform(job) }
        // While the person's run holds the lock, the agent's run has planned and waits, applying nothing.
        // Waited for without blocking a thread: the run being waited on needs one.
        var waiting = false
        for _ in 0..<400 where !waiting {
            waiting = said.withLock { $0.contains { $0.contains("waits for run \(person) (sync all) of ops") && $0.hasSuffix("which holds the lock") } }
            if !waiting { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(waiting, "the run found the person's run holding the lock: \(said.withLock { $0 })")
        #expect((try? lab.store.runDetails(ticket.run)) != nil, "it planned before it waited")
        let outcome = try lab.store.run(ticket.run)?.outcome
        #expect(lab.board.writes == 0 && outcome == "queued")
        try await lab.store.finishRun(person, outcome: .noChanges, summary: "")
        let result = await performing.value
        #expect(result.outcome == .succeeded && result.commit == commit, "\(result.summary)")
        #expect(lab.board.notes == ["a": "alpha"])
    }
}
