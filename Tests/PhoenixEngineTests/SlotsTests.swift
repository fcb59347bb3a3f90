import Foundation
import PhoenixCore
import Testing

@testable import PhoenixEngine

/// The executor's limits (`Slots`): at most `parallelism` steps at once, at most `perTarget` on one
/// target, the waiters started in the order they asked as slots free. Every step of every kind
/// takes a slot before it prepares and gives it back when it ends (or while it waits mid-step).
@Suite("The executor's limits: parallelism and per-target slots")
struct SlotsTests {
    /// Waits (without a sleep) until `count` steps wait for a slot.
    func waiters(_ slots: Slots, _ count: Int) async -> Bool {
        for _ in 0..<10_000 {
            if await slots.waitingCount == count { return true }
            await Task.yield()
        }
        return false
    }

    @Test("parallelism 2: a third step waits until one of the two running ends; then it starts, and the next waits again")
    func parallelism() async throws {
        let slots = Slots(ExecutionLimits(parallelism: 2))
        #expect(await slots.acquire("a"))
        #expect(await slots.acquire("b"))
        let third = Task { await slots.acquire("c") }
        #expect(await waiters(slots, 1), "the third waits while two run")
        let fourth = Task { await slots.acquire("d") }
        #expect(await waiters(slots, 2))
        await slots.release("a")
        #expect(await third.value, "the first to wait starts when a slot frees")
        #expect(await slots.waitingCount == 1, "one slot freed, one step started: the fourth still waits")
        await slots.release("b")
        #expect(await fourth.value)
        #expect(await slots.waitingCount == 0)
    }

    @Test("per target 1: a second step on the same target waits while one on another target starts at once")
    func perTarget() async throws {
        let slots = Slots(ExecutionLimits(parallelism: 4, perTarget: 1))
        #expect(await slots.acquire("guest/101"))
        let same = Task { await slots.acquire("guest/101") }
        #expect(await waiters(slots, 1), "a second step on guest/101 waits")
        #expect(await slots.acquire("guest/102"), "another target is not held back")
        #expect(await slots.waitingCount == 1)
        await slots.release("guest/101")
        #expect(await same.value)
    }

    @Test("an abandoned run (a failpoint crash in-process) starts nothing more: the waiters are let go with false")
    func abandoned() async throws {
        let slots = Slots(ExecutionLimits(parallelism: 1))
        #expect(await slots.acquire("a"))
        let waiting = Task { await slots.acquire("b") }
        #expect(await waiters(slots, 1))
        await slots.abandon()
        #expect(await waiting.value == false)
        #expect(await slots.acquire("c") == false)
    }
}
