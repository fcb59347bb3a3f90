import Foundation
import PhoenixCore
import PhoenixTesting
import Testing

@testable import PhoenixEngine

/// The engine's and the test kit's shared values under use from many tasks at once.
@Suite("Engine values used from many tasks at once")
struct EngineConcurrentUseTests {
    @Test("machine stats count every call made from many tasks at once")
    func machineStats() async {
        let stats = MachineStats()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<1_000 {
                group.addTask { stats.count(["read", "write", "rename", "remove", "command"][index % 5]) }
            }
        }
        #expect(stats["read"] == 200)
        #expect(stats["command"] == 200)
        #expect(stats.mutations == 600)
        #expect(stats.roundTrips == 1_000)
    }

    @Test("a state store journalled from many tasks at once keeps every entry", arguments: StateBackendKind.local)
    func stateStore(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "sync all", user: "ops", host: "node1")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await store.journal(run: run, resource: "files:r\(index)", phase: .intent, detail: "")
                    try await store.journal(run: run, resource: "files:r\(index)", phase: .verified, newDigest: "d\(index)")
                    try await store.recordKind("notes", resource: "note:\(index)", value: "v\(index)", run: run)
                }
            }
            try await group.waitForAll()
        }
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        await #expect(try store.journal(run: run).count == 400)
        await #expect(try store.unfinishedResources(in: [run]).isEmpty)
        await #expect(try store.verifiedDigests(prefix: "files:").count == 200)
        await #expect(try store.kindRecords("notes", asOf: nil).count == 200)
    }

    @Test("a server process stopped from several threads at once is stopped and reaped")
    func runningProcess() throws {
        let directory = try TemporaryDirectory("phoenix-running")
        let server = try RunningProcess("/bin/sleep", ["30"], logFile: directory.file("log"))
        #expect(server.isRunning)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in server.stop() }
        #expect(!server.isRunning)
        #expect(server.status == 128 + SIGTERM, "stopped by the first SIGTERM, reaped once")
        #expect(kill(server.pid, 0) == -1 && errno == ESRCH, "reaped: not even a zombie is left")
    }
}
