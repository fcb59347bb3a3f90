import Foundation
import PhoenixCore
import PhoenixServices

/// The dashboard's pages as data: `GET /api/v1/status` (the overview), `/api/v1/drift`,
/// `/api/v1/certificates`, `/api/v1/stacks`, `/api/v1/guests` and `/api/v1/graph`, from the same
/// typed values the pages render (the statuses in the JSON `phoenix status`, `stacks status` and
/// `certs status` print). Nothing here reads a system: the agent's last reading is answered, with
/// when it was read; one not read yet is 503, one that failed 502 with why.
extension AgentAPI {
    func estate(_ section: String) async -> APIResponse {
        switch section {
        case "status": return .json(200, await overview())
        case "drift":
            guard let status = await agent.status else { return .error(503, "no drift check has run yet") }
            return .json(200, Self.drift(status))
        case "graph":
            guard let status = await agent.status else { return .error(503, "no drift check has run yet") }
            return .json(200, Self.graph(status))
        case "certificates": return Self.reading(await agent.readings.certificates, "certificates", json: \.json)
        case "stacks": return Self.reading(await agent.readings.stacks, "stacks", json: \.json)
        default: return Self.reading(await agent.readings.guests, "guests", json: \.json)
        }
    }

    static func reading<Status>(_ reading: EstateReadings.Reading<Status>?, _ what: String, json: (Status) -> JSONValue) -> APIResponse {
        guard let reading else { return .error(503, "the \(what) have not been read yet (or the agent does not converge their stage)") }
        guard let status = reading.status else {
            return .json(
                502, .object([("error", .string("the \(what) could not be read: \(reading.failure ?? "")")), ("read_at", .string(timestamp(reading.at)))]))
        }
        return .json(200, json(status).adding("read_at", .string(timestamp(reading.at))))
    }

    /// The overview: each stage's state, the last run, the plans waiting, the agent's health, and
    /// the first few certificates, unconverged stacks and stopped guests.
    private func overview() async -> JSONValue {
        let recent = await (try? store.runs(limit: Dashboard.pageSize, before: nil)) ?? []
        let status = await agent.status
        let readings = await agent.readings
        let health = await agent.health()
        let queue = await agent.queue.state
        var members: [(key: String, value: JSONValue)] = [("version", .number(1)), ("estate", .string(agent.settings.estateName))]
        if let status {
            members += [
                ("commit", .string(status.commit)), ("checked", .string(Self.timestamp(status.checked))),
                ("stages", .array(status.stages.map(Self.stage))),
            ]
        } else {
            members += [("commit", .null), ("checked", .null), ("stages", .array([]))]
        }
        members.append(("last_run", recent.first { $0.outcome != "queued" }.map(Self.json) ?? .null))
        members.append(("waiting_for_approval", .array(recent.filter { $0.outcome == RunOutcome.waitingForApproval.rawValue }.map(Self.json))))
        members.append(
            (
                "agent",
                .object([
                    ("healthy", .bool(health.healthy)), ("reason", .string(health.reason)),
                    ("last_successful_poll", health.lastSuccessfulPoll.map { .string(Self.timestamp($0)) } ?? .null),
                    ("last_webhook", await agent.lastWebhookAccepted.map { .string(Self.timestamp($0)) } ?? .null),
                    ("running", queue.running.map { .number(Double($0)) } ?? .null), ("pending", queue.pending.map { .number(Double($0)) } ?? .null),
                ])
            ))
        let expiring = (readings.certificates?.status?.certificates ?? []).filter { $0.facts != nil }.sorted { $0.facts!.notAfter < $1.facts!.notAfter }
        members.append(
            (
                "certificates_expiring_first",
                .array(
                    expiring.prefix(OverviewPage.shown).map { certificate in
                        .object([
                            ("name", .string(certificate.name)), ("state", .string(certificate.state)),
                            ("not_after", .string(Self.timestamp(certificate.facts!.notAfter))),
                        ])
                    })
            ))
        members.append(
            (
                "stacks_not_converged",
                .array(
                    readings.stacksNotConverged.map { stack in
                        .object([("resource", .string(stack.resource)), ("stack", .string(stack.namespace)), ("health", .string(stack.health))])
                    })
            ))
        members.append(
            (
                "guests_not_running",
                .array(
                    readings.guestsNotRunning.map { row in
                        .object([("id", .string(String(row.id))), ("name", .string(row.name)), ("status", .string(row.status)), ("node", .string(row.node))])
                    })
            ))
        return .object(members)
    }

    static func stage(_ stage: EstateStatus.Stage) -> JSONValue {
        .object([
            ("stage", .string(stage.stage.rawValue)), ("state", .string(stage.state.rawValue)), ("resources", .number(Double(stage.resources))),
            ("drifted", .array(stage.drifted.map(JSONValue.string))), ("failed", .array(stage.failed.map(JSONValue.string))),
            ("not_applied", stage.notApplied.map(JSONValue.string) ?? .null), ("not_checked", .array(stage.notChecked.map(JSONValue.string))),
        ])
    }

    static func drift(_ status: EstateStatus) -> JSONValue {
        .object([
            ("version", .number(1)), ("commit", .string(status.commit)), ("checked", .string(timestamp(status.checked))),
            (
                "drifted",
                .array(
                    status.findings.map { finding in
                        .object([
                            ("id", .string(finding.id)), ("kind", .string(finding.kind)),
                            ("stage", status.stageOf[finding.id].map { .string($0.rawValue) } ?? .null), ("state", .string(finding.state.rawValue)),
                            ("detail", .string(finding.detail)),
                        ])
                    })
            ),
            ("stages", .array(status.stages.map(stage))),
        ])
    }

    /// Every resource of the estate with its stage, state and what it needs.
    static func graph(_ status: EstateStatus) -> JSONValue {
        .object([
            ("version", .number(1)), ("commit", .string(status.commit)),
            (
                "resources",
                .array(
                    status.stageOf.keys.sorted().map { id in
                        .object([
                            ("id", .string(id)), ("stage", .string(status.stageOf[id]!.rawValue)), ("state", .string(status.state(of: id).rawValue)),
                            ("depends_on", .array((status.dependsOn[id] ?? []).map(JSONValue.string))),
                        ])
                    })
            ),
        ])
    }
}
