import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Testing

/// The newest-commit-wins queue over the in-memory state store: no git, no server.
@Suite("The agent's run queue")
struct RunQueueTests {
    @Test("a burst of requests while a run goes gives one more run: every later request gets the waiting run's id")
    func burst() async throws {
        let store = InMemoryStateStore()
        let queue = RunQueue(store: store)
        let first = try await queue.submit(.init(RunTrigger(.webhook, provider: "github", delivery: "d0")))
        #expect(first.joined == false)
        let running = try #require(await queue.next())
        #expect(running.run == first.run)
        var tickets: [RunQueue.Ticket] = []
        for index in 1...10 { tickets.append(try await queue.submit(.init(RunTrigger(.webhook, provider: "github", delivery: "d\(index)")))) }
        let waiting = tickets[0].run
        #expect(waiting != first.run)
        #expect(tickets.map(\.run) == Array(repeating: waiting, count: 10))
        #expect(tickets.map(\.joined) == [false] + Array(repeating: true, count: 9))
        let state = await queue.state
        #expect(state.running == first.run && state.pending == waiting)
        // The running job heard of the newer requests (at most one buffered: it only needs to look once).
        var iterator = running.newerRequests.makeAsyncIterator()
        #expect(await iterator.next() != nil)
        await queue.finished(running.run)
        let next = try #require(await queue.next())
        #expect(next.run == waiting)
        // Eleven requests, two runs recorded (the test starts neither, so both are still queued).
        await #expect(try store.runs().map(\.id) == [waiting, first.run])
    }

    @Test("next() waits for a request; stages of joined requests widen, and every stage wins")
    func waitsAndWidens() async throws {
        let queue = RunQueue(store: InMemoryStateStore())
        async let job = queue.next()
        while await !queue.awaitsRequest { await Task.yield() }
        let ticket = try await queue.submit(.init(RunTrigger(.api, actor: "ops"), stages: [.dns]))
        let started = try #require(await job)
        #expect(started.run == ticket.run && started.request.stages == [.dns])
        _ = try await queue.submit(.init(RunTrigger(.api), stages: [.dns]))
        _ = try await queue.submit(.init(RunTrigger(.api), stages: [.certs]))
        await queue.finished(started.run)
        #expect(try #require(await queue.next()).request.stages == [.dns, .certs].sorted())
    }

    @Test("an approval while a newer run waits is refused naming that run; closing stops the running job and ends the waiting one")
    func approvalAndClose() async throws {
        let store = InMemoryStateStore()
        let queue = RunQueue(store: store)
        _ = try await queue.submit(.init(RunTrigger(.poll)))
        let running = try #require(await queue.next())
        let waiting = try await queue.submit(.init(RunTrigger(.poll)))
        await #expect(throws: RunQueue.Refusal.newerPending(run: waiting.run)) {
            try await queue.submit(.init(RunTrigger(.approval, actor: "ops"), approving: running.run))
        }
        await queue.close()
        #expect(running.control.stopReason == .shutdown)
        #expect(try store.run(waiting.run)?.outcome == "interrupted")
        await #expect(throws: RunQueue.Refusal.closed) { try await queue.submit(.init(RunTrigger(.poll))) }
        await queue.finished(running.run)
        #expect(await queue.next() == nil)
    }
}

@Suite("The run queue over a store whose calls suspend (as PostgreSQL's do)")
struct RunQueueSuspendingStoreTests {
    @Test("a burst of requests while the first one records its run queues one run: the others wait for it and join it")
    func burstQueuesOneRun() async throws {
        let memory = InMemoryStateStore()
        let store = SuspendingStateStore(memory)
        let queue = RunQueue(store: store)
        let tickets = try await withThrowingTaskGroup(of: RunQueue.Ticket.self) { group in
            for index in 0..<20 { group.addTask { try await queue.submit(.init(RunTrigger(.webhook, provider: "github", delivery: "d\(index)"))) } }
            var tickets: [RunQueue.Ticket] = []
            for try await ticket in group { tickets.append(ticket) }
            return tickets
        }
        #expect(Set(tickets.map(\.run)).count == 1, "one run for the burst: \(Set(tickets.map(\.run)))")
        #expect(tickets.filter { !$0.joined }.count == 1 && tickets.filter(\.joined).count == 19)
        await #expect(try memory.runs().count == 1, "one queued run recorded")
        #expect(store.calls > 0)
    }
}
