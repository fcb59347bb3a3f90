import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

extension SyncOptions {
    /// Runs `body` with the sync service for `stages`: the guests stage when the API is named, the
    /// firewall's rule sets through the API when asked, the engine for the files. The API client
    /// is shut down however `body` ends; returns the API calls it made (nil without one).
    func withService<T: Sendable>(
        estate: Estate, stages: [SyncStage], firewallThroughAPI: Bool, stats: MachineStats, stacksDirectory: String?, store: (any StateBackend)?,
        _ body: (SyncService, SyncService.FileStages) async throws -> T
    ) async throws -> (result: T, apiCalls: Int?) {
        for id in target where estate.guest(id) == nil { throw fail("--target \(id): there is no guest \(id) in the configuration", code: 64) }
        let useAPIFirewall = firewallThroughAPI && stages.contains(.firewall)
        let needsClient = useAPIFirewall || (stages.contains(.guests) && connection.isConfigured)
        let client = needsClient ? try connection.client() : nil
        var service = SyncService(estate: estate, stages: stages)
        service.scope = target.isEmpty ? nil : GuestScope(Set(target))
        let reporter: any ProgressReporter = progress == .none ? SilentProgress() : StderrProgress()
        if let client, stages.contains(.guests) {
            var guests = GuestSettings(estate: estate, client: client)
            guests.parallelism = max(1, parallelism)
            guests.failpoints = Failpoints.fromEnvironment()
            guests.reporter = reporter
            service.guests = guests
        }
        if let client, useAPIFirewall {
            var rules = FirewallRules(estate: estate, client: client)
            rules.parallelism = max(1, parallelism)
            rules.failpoints = Failpoints.fromEnvironment()
            rules.reporter = reporter
            rules.scope = service.scope
            service.firewallRules = rules
        }
        let files: SyncService.FileStages = { stages, run, upstream in
            try await withEngine(for: estate, stats: stats, stacksDirectory: stacksDirectory) { engine throws -> SyncService.FileResult in
                do throws(EngineError) {
                    guard let run else { return .planned(try await engine.plan(stages, store: store)) }
                    guard let store else { return .none }
                    return .synced(try await engine.sync(stages, store: store, run: run.id, interrupted: run.interrupted, upstream: upstream))
                } catch {
                    throw fail(error.description)
                }
            }
        }
        do {
            let result = try await body(service, files)
            await client?.shutdown()
            return (result, client?.counter.total)
        } catch {
            await client?.shutdown()
            throw error
        }
    }
}

/// Plans and sync outcomes of every kind, as text or JSON: the guests first, the files as the
/// engine's printer renders them, the firewall through the API last.
enum SyncPrinter {
    /// `allFirewallLines`: the API firewall's scopes that are as configured too (sync lists them all).
    static func text(_ outcome: SyncService.Outcome, verbose: Bool = false, paint: Paint, allFirewallLines: Bool = false) -> String {
        var out = ""
        for (stage, reason) in outcome.notApplied { out += "\(stage.rawValue): not applied: \(reason)\n" }
        if let error = outcome.guestsError { out += "guests: \(paint.red("failed")): \(TextRules.printable(error, limit: 1200))\n" }
        if let guests = outcome.guests {
            let lines = guests.lines.filter { verbose || !$0.hasSuffix(": as configured") }
            out += lines.map { "guests: \(TextRules.printable($0, limit: 400))\n" }.joined()
            if guests.notRead > 0 {
                out += "guests: \(guests.notRead) unchanged since phoenix converged them were not read (--refresh with converge reads them)\n"
            }
        }
        switch outcome.files {
        case .none: break
        case let .planned(plan): out += PlanPrinter.text(plan, verbose: verbose, paint: paint)
        case let .synced(files): out += PlanPrinter.outcomeText(files, paint: paint)
        }
        if let error = outcome.firewallError { out += "firewall (API): \(paint.red("failed")): \(TextRules.printable(error, limit: 1200))\n" }
        if let firewall = outcome.firewall {
            let lines = FirewallRulesPrinter.lines(firewall).filter { verbose || allFirewallLines || !$0.hasSuffix(": as configured") }
            out += lines.map { "firewall (API) \($0)\n" }.joined()
        }
        return out
    }

    static func json(_ outcome: SyncService.Outcome) -> JSONValue {
        var document: JSONValue
        switch outcome.files {
        case .none: document = .object([("version", .number(1))])
        case let .planned(plan): document = PlanPrinter.planJSON(plan)
        case let .synced(files): document = PlanPrinter.outcomeJSON(files)
        }
        if !outcome.notApplied.isEmpty {
            let files: [JSONValue]
            if case let .object(members) = document, case let .array(items)? = members.first(where: { $0.key == "not_applied" })?.value {
                files = items
            } else {
                files = []
            }
            let guests = outcome.notApplied.map { JSONValue.object([("stage", .string($0.stage.rawValue)), ("reason", .string($0.reason))]) }
            document = document.setting("not_applied", .array(guests + files))
        }
        if let guests = outcome.guests {
            document = document.adding(
                "guests",
                .object([
                    ("read", .number(Double(guests.read))), ("not_read", .number(Double(guests.notRead))),
                    ("changes", .array(guests.changed.map(GuestSettingsPrinter.json))),
                ]))
        }
        if let error = outcome.guestsError { document = document.adding("guests_error", .string(error)) }
        if let firewall = outcome.firewall { document = document.adding("firewall_api", FirewallRulesPrinter.json(firewall)) }
        if let error = outcome.firewallError { document = document.adding("firewall_api_error", .string(error)) }
        if outcome.run != nil { document = document.setting("succeeded", .bool(outcome.succeeded)) }
        return document
    }
}

extension JSONValue {
    /// This object with `key` set to `value` (replaced where it is, else added).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        guard members.contains(where: { $0.key == key }) else { return adding(key, value) }
        return .object(members.map { $0.key == key ? (key: key, value: value) : $0 })
    }
}
