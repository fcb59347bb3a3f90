import PhoenixServices
import Testing

@testable import PhoenixCore

@Suite("letsgo: create, converge, start, then one sync when a guest asks for it")
struct LetsGoTests {
    static func estate(asking: [Int], disabled: [Int] = []) throws -> Estate {
        func extra(_ id: Int) -> String {
            ([asking.contains(id) ? #""trigger_sync_on_completion": true"# : nil, disabled.contains(id) ? #""enabled": false"# : nil] as [String?])
                .compactMap { $0 }.joined(separator: ", ")
        }
        let lxc = TestEstate.containers(
            TestEstate.container(101, "Nginx-Phoenix", ip: "10.0.0.10/24", extra: extra(101)),
            TestEstate.container(102, "Traefik-Internal", ip: "10.0.0.12/24", extra: extra(102)))
        let result = TestEstate.load(lxc: lxc)
        return try #require(result.estate, "\(result.report.summary)")
    }

    @Test("the steps run in order; the sync only when an enabled guest asks for it and --no-sync is not given")
    func steps() throws {
        #expect(LetsGo(estate: try Self.estate(asking: [])).steps == [.create, .converge, .start])
        let asking = LetsGo(estate: try Self.estate(asking: [102]))
        #expect(asking.asking == [102])
        #expect(asking.steps == [.create, .converge, .start, .sync])
        var noSync = asking
        noSync.sync = false
        #expect(noSync.steps == [.create, .converge, .start])
        #expect(LetsGo(estate: try Self.estate(asking: [102], disabled: [102])).steps == [.create, .converge, .start], "a disabled guest asks nothing")
    }

    @Test("a step that fails ends the walk: nothing after it runs")
    func stopsAtFailure() async throws {
        struct Refused: Error {}
        var taken: [LetsGo.Step] = []
        await #expect(throws: Refused.self) {
            try await LetsGo(estate: try Self.estate(asking: [101])).run { step in
                taken.append(step)
                if step == .converge { throw Refused() }
            }
        }
        #expect(taken == [.create, .converge])
    }
}
