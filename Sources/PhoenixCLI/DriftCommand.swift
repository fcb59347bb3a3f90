import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

/// `phoenix drift`: installed vs last applied vs desired.
struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Compare what is installed with what phoenix last applied and with what the configuration asks for.",
        discussion: """
            Says which side moved: changed by hand, configuration changed, or both. With the API configured (--api or \
            $PHOENIX_API) the guests too: every guest's Proxmox configuration read afresh and compared. Exit 2 when anything drifted.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "The stages to check (default: all).") var stages: [String] = []

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try target.existingStore()
        let stages = try parseStages(stages)
        let fileStages = stages.filter { ![.guests, .certs, .swarm, .stacks].contains($0) }
        let items =
            fileStages.isEmpty
            ? []
            : try await target.withEngine(for: estate, stacksDirectory: global.resolvedStacksDirectory) { engine throws -> [DriftItem] in
                do throws(EngineError) { return try await engine.drift(store: store, stages: fileStages) } catch { throw fail(error.description) }
            }
        let drifted = items.filter(\.drift.isDrift)
        var guests: [GuestDrift]?
        if target.connection.isConfigured && stages.contains(.guests) {
            let records: [Int: GuestRecord]
            do { records = try store?.guestRecords() ?? [:] } catch { throw fail(error.description) }
            guests = try await target.connection.withClient { client async throws(ProxmoxError) in
                try await GuestDrift.check(estate: estate, records: records, client: client)
            }
        }
        let stacks = stages.contains(.stacks) ? try await stackDrift(estate: estate, store: store) : nil
        let stacksDrifted = stacks?.filter { $0.drift != nil } ?? []
        let certs = stages.contains(.certs) ? try await certDrift(estate: estate, store: store) : nil
        let certsDrifted = certs?.items.filter { $0.drift != nil } ?? []
        if format == .json {
            var document = JSONValue.object([
                ("version", .number(1)), ("drifted", .bool(!drifted.isEmpty || guests?.isEmpty == false)),
                (
                    "resources",
                    .array(
                        items.map {
                            .object([("id", .string($0.id)), ("unit", .string($0.unit.key)), ("path", .string($0.path)), ("drift", .string($0.drift.rawValue))])
                        })
                ),
            ])
            if let guests { document = document.adding("guests", .array(guests.map(\.json))) }
            if let stacks {
                document = document.setting("drifted", .bool(!drifted.isEmpty || guests?.isEmpty == false || !stacksDrifted.isEmpty))
                document = document.adding(
                    "stacks",
                    .array(
                        stacks.map { item in
                            .object([
                                ("id", .string(item.id)), ("drift", .string(item.drift ?? "in sync")), ("detail", .string(item.detail)),
                            ])
                        }))
            }
            if let certs {
                if certs.items.contains(where: { $0.drift != nil }) { document = document.setting("drifted", .bool(true)) }
                var entries: [JSONValue] = certs.items.map { item in
                    .object([("id", .string(item.id)), ("drift", .string(item.drift ?? "in sync")), ("detail", .string(item.detail))])
                }
                if let reason = certs.notChecked { entries = [.object([("not_checked", .string(reason))])] }
                document = document.adding("certificates", .array(entries))
            }
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            var out = ""
            for item in drifted { out += "\(item.drift.rawValue): \(item.id)  \(item.path) (\(item.unit))\n" }
            if !fileStages.isEmpty {
                out +=
                    drifted.isEmpty
                    ? "No drift: \(items.count) resources as phoenix applied them.\n" : "\(drifted.count) of \(items.count) resources drifted.\n"
            }
            if let guests {
                for guest in guests { out += guest.line + "\n" }
                out += guests.isEmpty ? "No guest drift: every guest on the cluster as configured.\n" : "\(guests.count) guests drifted.\n"
            }
            if let stacks {
                for item in stacksDrifted { out += "\(item.drift!): \(item.id): \(item.detail)\n" }
                out +=
                    stacksDrifted.isEmpty
                    ? "No stack drift: \(stacks.count) stacks as phoenix deployed them.\n" : "\(stacksDrifted.count) of \(stacks.count) stacks drifted.\n"
            }
            if let certs {
                if let reason = certs.notChecked {
                    out += "Certificates not checked: \(reason)\n"
                } else {
                    for item in certsDrifted { out += "\(item.drift!): \(item.id): \(item.detail)\n" }
                    for item in certs.items where item.drift == nil && !item.detail.isEmpty { out += "note: \(item.id): \(item.detail)\n" }
                    out +=
                        certsDrifted.isEmpty
                        ? "No certificate drift: \(certs.items.count) certificates as phoenix installed them.\n"
                        : "\(certsDrifted.count) of \(certs.items.count) certificates drifted.\n"
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
        if stacksDrifted.contains(where: { $0.drift == "cannot check" }) { throw ExitCode.failure }
        if !drifted.isEmpty || guests?.isEmpty == false || !stacksDrifted.isEmpty || !certsDrifted.isEmpty { throw ExitCode(2) }
    }

    /// The stacks beside what phoenix last deployed: services changed on the cluster by hand, a
    /// configuration changed since, stacks never deployed. nil without a Swarm manager; a daemon
    /// that cannot be read is an error (a check that cannot run is not a clean result).
    func stackDrift(estate: Estate, store: (any StateBackend)?) async throws -> [(id: String, drift: String?, detail: String)]? {
        guard SwarmDesired(estate: estate).manager != nil, !SwarmDesired(estate: estate).stacks.isEmpty else { return nil }
        let connections = SwarmConnections(settings: estate.settings.docker)
        let feed = CertificateFeed()
        await CertConvergence.prefill(
            feed, estate: estate,
            host: target.machines(for: estate, stats: MachineStats(), vms: VMDirectory { [connection = target.connection] in try connection.makeClient() }).host
        )
        let secrets = SecretVersions(estate: estate, desired: SwarmDesired(estate: estate), feed: feed)
        let deployments = StackDeployments(estate: estate, connections: connections, deployer: PlanOnlyDeployer(), secrets: secrets)
        let report = await deployments.plan(store: store)
        await connections.shutdown()
        if let error = report.error { throw fail("stacks: the drift check cannot read the Swarm: \(error)") }
        return report.items.map { item in
            // A stack that cannot be compared (its compose does not render, a secret has no
            // source) is not "in sync": it is said, and the command fails.
            if let failure = item.failure { return (item.id, "cannot check", failure) }
            let reason = item.reasons.first ?? ""
            for (prefix, drift) in [
                ("changed on the cluster by hand", "changed by hand"), ("configuration changed", "configuration changed"),
                ("phoenix deployed it and the configuration no longer lists it", "no longer configured"),
            ] where reason.hasPrefix(prefix) {
                let detail = reason.dropFirst(prefix.count).drop { $0 == ":" || $0 == " " }
                return (item.id, drift, detail.isEmpty ? reason : String(detail))
            }
            return (item.id, item.action == .none ? nil : "not deployed", reason)
        }
    }
}

extension DriftCommand {
    /// The certificates as installed beside what phoenix last installed; a machine or root that
    /// cannot be read is an error; no root exported yet is said, not failed (as the trust stage).
    func certDrift(estate: Estate, store: (any StateBackend)?) async throws -> (items: [CertDrift.Item], notChecked: String?) {
        let report = await target.readCertificates(estate)
        if let reason = report.notReady { return ([], reason) }
        if let error = report.error { throw fail("certs: the drift check cannot read the certificates: \(error)") }
        let verified: [String: String]
        do { verified = try store?.verifiedDigests(prefix: "cert:") ?? [:] } catch { throw fail(error.description) }
        return (CertDrift.check(report, verified: verified), nil)
    }
}

/// Stands in for `docker stack deploy` where phoenix only reads (it is never called).
struct PlanOnlyDeployer: StackDeployer {
    func deploy(namespace: String, compose: String, prune: Bool) async -> CommandResult {
        CommandResult(status: 1, stdout: "", stderr: "phoenix only reads here")
    }
}
