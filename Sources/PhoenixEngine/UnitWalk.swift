import Foundation
import PhoenixCore

/// The schedule of one walk over the units: which are waiting, running and done. Each unit starts
/// as soon as everything it needs has converged, within the parallelism and one per machine; a
/// unit whose dependency did not converge is blocked at once, and so on down the graph.
final class UnitWalk: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [ServiceUnit]
    private var running = 0
    private var busy: Set<RenderedFile.Target> = []
    private let needs: [ServiceUnit: Set<ServiceUnit>]
    private let parallelism: Int
    /// Guarded by `condition` while the walk runs; complete once `run` returns.
    private(set) var done: [ServiceUnit: UnitOutcome] = [:]

    init(units: [ServiceUnit], needs: [ServiceUnit: Set<ServiceUnit>], blocked: [ServiceUnit: String], parallelism: Int) {
        self.needs = needs
        self.parallelism = parallelism
        waiting = units.sorted()
        for (unit, reason) in blocked where units.contains(unit) {
            done[unit] = UnitOutcome(unit: unit, status: .blocked, resources: [], message: reason, seconds: 0)
        }
        waiting.removeAll { done[$0] != nil }
    }

    func run(_ body: @escaping @Sendable (ServiceUnit) -> UnitOutcome) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            blockDependentsOfFailures()
            for unit in waiting where running < parallelism && !busy.contains(unit.target) && (needs[unit] ?? []).allSatisfy({ done[$0] != nil }) {
                waiting.removeAll { $0 == unit }
                running += 1
                busy.insert(unit.target)
                DispatchQueue.global().async {
                    let outcome = body(unit)
                    self.condition.lock()
                    self.done[unit] = outcome
                    self.running -= 1
                    self.busy.remove(unit.target)
                    self.condition.signal()
                    self.condition.unlock()
                }
            }
            if waiting.isEmpty && running == 0 { return }
            condition.wait()
        }
    }

    /// Blocks every waiting unit that needs one that failed or was blocked, until none is left to block.
    private func blockDependentsOfFailures() {
        var changed = true
        while changed {
            changed = false
            for unit in waiting {
                guard let failed = (needs[unit] ?? []).sorted().first(where: { done[$0].map { $0.status != .converged } ?? false }) else { continue }
                done[unit] = UnitOutcome(unit: unit, status: .blocked, resources: [], message: "not attempted: \(failed) did not converge", seconds: 0)
                waiting.removeAll { $0 == unit }
                changed = true
            }
        }
    }
}
