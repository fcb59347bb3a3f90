import PhoenixCore

extension GuestSettings: DriftingKind {
    /// Every enabled guest beside the configuration and what phoenix recorded: absent ones, and each
    /// present one's settings as read (drift reads every guest: `refresh`), with which side moved.
    public func drift(_ observation: Observation, in context: KindContext) -> KindDrift? {
        var drifts = observation.absentIDs.compactMap { id in estate.guest(id).map { GuestDrift(id: id, name: $0.name, cause: .absent, changes: []) } }
        var findings = drifts.map { DriftFinding(id: GuestSettingsKind.id($0.id), kind: name, state: .neverApplied, detail: $0.cause.rawValue) }
        for (guest, plan, _) in observation.read {
            let id = GuestSettingsKind.id(guest.id)
            guard !plan.changes.isEmpty else {
                findings.append(DriftFinding(id: id, kind: name, state: .inSync))
                continue
            }
            let cause: GuestDrift.Cause
            let state: Drift
            if let record = observation.records[guest.id] {
                let asBefore = record.fingerprint == ProxmoxGuestConfig.fingerprint(for: guest)
                (cause, state) = asBefore ? (.changedOnCluster, .changedByHand) : (.configurationChanged, .configurationChanged)
            } else {
                (cause, state) = (.neverConverged, .neverApplied)
            }
            let drift = GuestDrift(id: guest.id, name: guest.name, cause: cause, changes: plan.changes)
            drifts.append(drift)
            findings.append(DriftFinding(id: id, kind: name, state: state, detail: drift.line))
        }
        drifts.sort { $0.id < $1.id }
        return KindDrift(
            kind: name, findings: findings.sorted { $0.id < $1.id }, member: "guests", entries: drifts.map(\.json),
            lines: drifts.map(\.line)
                + [drifts.isEmpty ? "No guest drift: every guest on the cluster as configured." : "\(drifts.count) guests drifted."])
    }
}
