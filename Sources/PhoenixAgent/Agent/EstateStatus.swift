import Foundation
import PhoenixCore

/// What the agent last found of the estate, stage by stage: the drift check's findings placed in
/// the stages of the resource graph, the kinds it could not check, the stages that cannot run here,
/// and the resources the last run left failed. Kept in the agent's memory and replaced whole at each
/// drift check and each ended run, so the overview reads it without touching any system.
public struct EstateStatus: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case inSync = "in sync"
        case drifted
        case failed
        case notApplied = "not applied"
    }

    public struct Stage: Sendable, Equatable {
        public let stage: SyncStage
        public var resources: Int
        /// Drifted resources, by id.
        public var drifted: [String] = []
        /// The resources of the stage the last run left failed, with how.
        public var failedResources: [String: ResourceFailure] = [:]
        /// The kinds of the stage the last drift check could not check, with why.
        public var unchecked: [String: ResourceFailure] = [:]
        /// Why the stage cannot be converged here (no Proxmox API options …).
        public var notApplied: String?
        /// Kinds of the stage whose resources the drift check does not compare, with why: the
        /// stage's state says nothing of them, and the page says so.
        public var notChecked: [String] = []

        public var state: State {
            if notApplied != nil { return .notApplied }
            if !failedResources.isEmpty || !unchecked.isEmpty { return .failed }
            return drifted.isEmpty ? .inSync : .drifted
        }

        /// What failed, for people: each resource with its failure's category, then each kind that
        /// could not be checked with why.
        public var failed: [String] {
            failedResources.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.category))" }
                + unchecked.sorted { $0.key < $1.key }.map { "\($0.key) could not be checked: \($0.value)" }
        }
    }

    /// The commit whose estate was checked.
    public let commit: String
    public let checked: Date
    /// Every stage that has resources in the estate, or cannot run here, in the stages' order.
    public var stages: [Stage]
    /// The drifted resources' findings.
    public var findings: [DriftFinding]
    /// The stage of each resource of the estate (the resource graph's).
    public let stageOf: [String: SyncStage]
    /// What each resource needs converged first (the resource graph's edges).
    public var dependsOn: [String: [String]] = [:]

    /// The drift check's result placed in stages: `stageOf` the resource graph's stage of each id;
    /// a kind that could not be checked fails every stage holding one of its resources.
    public init(
        commit: String, checked: Date, stageOf: [String: SyncStage], kindOf: [String: String], drifts: [KindDrift],
        notApplied: [(stage: SyncStage, reason: String)]
    ) {
        self.commit = commit
        self.checked = checked
        self.stageOf = stageOf
        var stages: [SyncStage: Stage] = [:]
        for stage in stageOf.values { stages[stage, default: Stage(stage: stage, resources: 0)].resources += 1 }
        var findings: [DriftFinding] = []
        for drift in drifts {
            if let reason = drift.notChecked {
                for stage in Set(stageOf.filter { kindOf[$0.key] == drift.kind }.values) { stages[stage]?.notChecked.append(reason) }
            }
            if let failure = drift.failure {
                for stage in Set(stageOf.filter { kindOf[$0.key] == drift.kind }.values) { stages[stage]?.unchecked[drift.kind] = failure }
            }
            for finding in drift.findings where finding.state != .inSync {
                findings.append(finding)
                if let stage = stageOf[finding.id] { stages[stage]?.drifted.append(finding.id) }
            }
        }
        for (stage, reason) in notApplied { stages[stage, default: Stage(stage: stage, resources: 0)].notApplied = reason }
        self.stages = stages.values.sorted { $0.stage < $1.stage }
        self.findings = findings
    }

    /// Each resource's state: drifted, failed (the last run left it so), or in sync.
    public func state(of id: String) -> State {
        guard let stage = stageOf[id] else { return .inSync }
        let summary = stages.first { $0.stage == stage }
        if summary?.notApplied != nil { return .notApplied }
        if summary?.failedResources[id] != nil { return .failed }
        return summary?.drifted.contains(id) == true ? .drifted : .inSync
    }

    /// The same, with what an ended run left failed (`failures`, by resource id) in place of what
    /// the run before left failed; the kinds the drift check could not check stay so until the next.
    public func after(runFailures failures: [String: ResourceFailure]) -> EstateStatus {
        var copy = self
        for index in copy.stages.indices { copy.stages[index].failedResources = [:] }
        for (id, failure) in failures {
            guard let stage = stageOf[id], let index = copy.stages.firstIndex(where: { $0.stage == stage }) else { continue }
            copy.stages[index].failedResources[id] = failure
        }
        return copy
    }
}
