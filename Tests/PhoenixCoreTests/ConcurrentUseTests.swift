import Foundation
import Testing

@testable import PhoenixCore

/// The core's shared mutable values under use from many threads at once (`Concurrent.map` runs its
/// body on every core, as the loader does).
@Suite("Core values used from many threads at once")
struct ConcurrentUseTests {
    @Test("a diagnostic sink filled from many threads keeps every diagnostic; forwarding moves them all, tied to the resource")
    func diagnosticSink() {
        let sink = DiagnosticSink()
        let count = 4_000
        _ = Concurrent.map(count) { index in
            if index.isMultiple(of: 2) {
                sink.error("guests.json", JSONPointer(["lxc_configs", String(index)]), "error \(index)")
            } else {
                sink.warning("guests.json", JSONPointer(["lxc_configs", String(index)]), "warning \(index)")
            }
        }
        let report = sink.report()
        #expect(report.errors.count == count / 2)
        #expect(report.warnings.count == count / 2)
        #expect(Set(report.errors.map(\.message)) == Set(stride(from: 0, to: count, by: 2).map { "error \($0)" }))
        #expect(sink.hasErrors)

        // Many per-entry sinks forwarded into one at once, as the loader checks entries in parallel.
        let whole = DiagnosticSink()
        _ = Concurrent.map(200) { index in
            let entry = DiagnosticSink()
            entry.error("certs.json", JSONPointer(["certificates", String(index)]), "bad entry \(index)")
            entry.error("certs.json", JSONPointer(["certificates", String(index), "sans"]), "bad name \(index)")
            entry.forward(to: whole, resource: "cert:\(index).example")
            #expect(entry.report().errors.isEmpty, "forwarding empties the entry's sink")
        }
        let forwarded = whole.report().errors
        #expect(forwarded.count == 400)
        #expect(Set(forwarded.compactMap(\.resource)).count == 200)
        #expect(forwarded.allSatisfy { $0.resource == "cert:\($0.pointer.tokens[1]).example" })
    }

    @Test("Concurrent.map keeps the input's order whatever thread ran each item")
    func mapKeepsOrder() {
        let squares = Concurrent.map(10_000) { $0 * $0 }
        #expect(squares == (0..<10_000).map { $0 * $0 })
        #expect(Concurrent.map(1) { $0 + 7 } == [7])
        #expect(Concurrent.map(0) { $0 }.isEmpty)
        let kept = Concurrent.compactMap(Array(0..<5_000), minimumChunk: 64) { $0.isMultiple(of: 3) ? String($0) : nil }
        #expect(kept == stride(from: 0, to: 5_000, by: 3).map(String.init))
    }
}
