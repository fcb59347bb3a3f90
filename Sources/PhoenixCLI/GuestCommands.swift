import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// How phoenix reaches the Proxmox API. The token is read from a file or the environment, never
/// from the command line (where `ps` would show it).
struct ProxmoxOptions: ParsableArguments {
    @Option(name: .long, help: "The Proxmox API, https://host:8006 (default: $PHOENIX_API).")
    var api: String?

    @Option(name: .long, help: "The CA the API's certificate chains to, the cluster's pve-root-ca.pem (default: $PHOENIX_API_CA).")
    var apiCa: String?

    @Option(name: .long, help: "A file holding the API token user@realm!tokenid=secret (default: $PHOENIX_API_TOKEN_FILE, or the token itself in $PHOENIX_API_TOKEN).")
    var apiTokenFile: String?

    @Option(name: .long, help: "Sign in with a ticket as this user (root@pam) instead of a token; the password from $PHOENIX_API_PASSWORD_FILE or $PHOENIX_API_PASSWORD.")
    var apiUser: String?

    @Flag(name: .long, help: "Print on stderr the number of API calls and the wall time.")
    var stats = false

    func printStats(_ client: ProxmoxClient, started: Date) {
        guard stats else { return }
        FileHandle.standardError.write(Data(String(format: "stats: %.3f s, %d API calls\n", Date().timeIntervalSince(started), client.counter.total).utf8))
    }

    func client() throws -> ProxmoxClient {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        guard let endpoint = api ?? environment["PHOENIX_API"] else { throw fail("name the Proxmox API with --api https://host:8006 or $PHOENIX_API", code: 64) }
        let ca = apiCa ?? environment["PHOENIX_API_CA"]
        if let user = apiUser ?? environment["PHOENIX_API_USER"] {
            var password = environment["PHOENIX_API_PASSWORD"]
            if let file = environment["PHOENIX_API_PASSWORD_FILE"] {
                guard let data = FileManager.default.contents(atPath: file) else { throw fail("cannot read the API password file \(file)") }
                password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            guard let password else { throw fail("no password for \(user): set $PHOENIX_API_PASSWORD_FILE", code: 64) }
            do { return try ProxmoxClient(endpoint: endpoint, auth: .ticket(user: user, password: password), caFile: ca) } catch { throw fail(error.description) }
        }
        var token = environment["PHOENIX_API_TOKEN"]
        if let file = apiTokenFile ?? environment["PHOENIX_API_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("cannot read the API token file \(file)") }
            token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let token, token.contains("!"), token.contains("=") else {
            throw fail("no API token: put user@realm!tokenid=secret in a file named by --api-token-file or $PHOENIX_API_TOKEN_FILE", code: 64)
        }
        do {
            return try ProxmoxClient(endpoint: endpoint, auth: .token(token), caFile: ca)
        } catch {
            throw fail(error.description)
        }
    }
}

/// `phoenix status`: every configured guest beside what the cluster reports, from one bulk read.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show every guest: configured, and as the cluster reports it (one API call).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        let client = try proxmox.client()
        defer { proxmox.printStats(client, started: started) }
        let cluster: [ProxmoxGuest]
        do {
            cluster = try await client.guests()
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        let byID = Dictionary(cluster.map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
        let configured = Set(estate.guests.map(\.id))
        var rows: [[String]] = []
        for guest in estate.guests {
            let actual = byID[guest.id]
            rows.append([
                String(guest.id), guest.kind == .lxc ? "lxc" : "vm", guest.name, actual?.status ?? "absent", actual?.node ?? "-",
                guest.isTemplate ? "template" : (guest.enabled ? "" : "disabled"),
            ])
        }
        for guest in cluster where !configured.contains(guest.vmid) {
            rows.append([String(guest.vmid), guest.kind == .lxc ? "lxc" : "vm", guest.name, guest.status, guest.node, "not in the configuration"])
        }
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)),
                ("guests", .array(rows.map { row in
                    .object([("id", .string(row[0])), ("kind", .string(row[1])), ("name", .string(row[2])), ("status", .string(row[3])), ("node", .string(row[4])), ("note", .string(row[5]))])
                })),
            ])
            FileHandle.standardOutput.write(Data((JSONWriter().string(document) + "\n").utf8))
            return
        }
        let header = ["ID", "KIND", "NAME", "STATUS", "NODE", "NOTE"]
        let widths = header.indices.map { column in ([header] + rows).map { TextRules.printable($0[column]).count }.max() ?? 0 }
        let lines = ([header] + rows).map { row in
            row.indices.map { TextRules.printable(row[$0]).padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// `phoenix start|stop|restart [ID...]`: walks the dependency graph (dependencies first; stop in
/// reverse), never starts a template, skips a guest already in the wanted state.
struct PowerOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 120
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    /// Returns the guests whose state it changed.
    @discardableResult
    func walk(_ verb: GraphVerb, state: String, only: [Int]? = nil) async throws -> [Int] {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let targets = only ?? (ids.isEmpty ? nil : ids)
        let graph = GuestGraph(estate: estate, verb: verb, targets: targets)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        let client = try proxmox.client()
        var changed: [Int] = []
        do throws(ProxmoxError) {
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            for id in graph.order {
                guard let guest = cluster[id] else {
                    if verb == .stop {
                        FileHandle.standardOutput.write(Data("\(id): not on the cluster, nothing to stop\n".utf8))
                        continue
                    }
                    throw ProxmoxError(call: "guest \(id)", kind: .refused, message: "it does not exist on the cluster (phoenix create \(id) first)")
                }
                if guest.status == state {
                    FileHandle.standardOutput.write(Data("\(id) \(guest.name): already \(state)\n".utf8))
                    continue
                }
                let started = Date()
                try await client.setPower(guest, to: verb == .stop ? "stop" : "start", timeout: taskTimeout)
                changed.append(id)
                FileHandle.standardOutput.write(Data(String(format: "%d %@: %@ (%.1f s)\n", id, guest.name, state, Date().timeIntervalSince(started)).utf8))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        return changed
    }
}

struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start guests and what they depend on, dependencies first (templates never).")
    @OptionGroup var power: PowerOptions
    func run() async throws { try await power.walk(.start, state: "running") }
}

struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart", abstract: "Stop guests and what depends on them (dependents first), then start them all again (dependencies first).")
    @OptionGroup var power: PowerOptions
    func run() async throws {
        // What the stop took down (the targets and what needs them), and the targets, come back up.
        let stopped = try await power.walk(.stop, state: "stopped")
        try await power.walk(.start, state: "running", only: Array(Set(stopped + power.ids)).sorted())
    }
}

struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop guests and what depends on them, dependents first.")
    @OptionGroup var power: PowerOptions
    func run() async throws { try await power.walk(.stop, state: "stopped") }
}

/// `phoenix create [ID...]`: creates what is missing, templates before their clones.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create missing guests (and what they are cloned from or need), templates first; existing guests are left alone.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "The node for guests that are not clones (default: phoenix.node_name, else the first online node).")
    var node: String?
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 600
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    func run() async throws {
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let graph = GuestGraph(estate: estate, verb: .create, targets: ids.isEmpty ? nil : ids)
        if !graph.cycles.isEmpty { throw fail("dependency cycle: \(graph.cycles[0].map(String.init).joined(separator: " → "))", code: 65) }
        let client = try proxmox.client()
        do throws(ProxmoxError) {
            var cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            var defaultNode = node ?? estate.settings.nodeName
            if defaultNode == nil { defaultNode = try await client.onlineNodes().first }
            // Clones from one template are made one at a time: the walk is sequential.
            for id in graph.order {
                guard let guest = estate.guest(id) else { continue }
                if cluster[id] != nil {
                    FileHandle.standardOutput.write(Data("\(id) \(guest.name): exists\n".utf8))
                    continue
                }
                let source = guest.cloneFrom.flatMap { cluster[$0] }
                if let template = guest.cloneFrom, source == nil {
                    throw ProxmoxError(call: "guest \(id)", kind: .refused, message: "its clone source \(template) does not exist on the cluster")
                }
                let started = Date()
                try await client.create(guest, from: source, node: source?.node ?? defaultNode ?? "pve", timeout: taskTimeout)
                cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
                let how = source.map { "cloned from \($0.vmid)" } ?? "created"
                FileHandle.standardOutput.write(Data(String(format: "%d %@: %@ (%.1f s)\n", id, guest.name, how, Date().timeIntervalSince(started)).utf8))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
    }
}

/// `phoenix delete ID...`: deletes guests phoenix created (dependents first); others only with --force.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete guests phoenix created (stopped first); a guest without phoenix's ownership tag is refused unless --force.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Delete even a guest phoenix did not create.") var force = false
    @Option(name: .long, help: "Seconds to wait for each guest's task.") var taskTimeout: Double = 300
    @Argument(help: "Guest ids.") var ids: [Int]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name the guests to delete") }
    }

    func run() async throws {
        let client = try proxmox.client()
        do throws(ProxmoxError) {
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            // Every guest is checked before any is deleted: a refusal leaves everything as it was.
            let foreign = ids.compactMap { cluster[$0] }.filter { !$0.tags.contains(ProxmoxGuestConfig.ownershipTag) }
            if !force, let first = foreign.first {
                throw ProxmoxError(
                    call: "guest \(first.vmid) (\(first.name))", kind: .refused,
                    message: "it does not carry the \(ProxmoxGuestConfig.ownershipTag) tag, so phoenix did not create it; nothing was deleted (delete it by hand, or pass --force)")
            }
            for id in ids {
                guard let guest = cluster[id] else {
                    FileHandle.standardOutput.write(Data("\(id): not on the cluster, nothing to delete\n".utf8))
                    continue
                }
                try await client.destroy(guest, timeout: taskTimeout)
                FileHandle.standardOutput.write(Data("\(id) \(guest.name): deleted\n".utf8))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
    }
}

/// `phoenix converge [ID...]`: applies what the configuration says about existing guests, plan first.
struct ConvergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "converge",
        abstract: "Set cores, memory, network, start at boot and order on existing guests as configured; the plan first.",
        discussion: "A setting a running guest takes only after a reboot is reported, and the guest is rebooted only with --reboot.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false
    @Flag(name: .long, help: "Reboot running guests whose changes wait for a reboot.") var reboot = false
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "Guest ids (default: every guest).") var ids: [Int] = []

    func run() async throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        for id in ids where estate.guest(id) == nil { throw fail("guest \(id) is not in the configuration", code: 64) }
        let wanted = estate.guests.filter { $0.enabled && (ids.isEmpty || ids.contains($0.id)) }
        let client = try proxmox.client()
        defer { proxmox.printStats(client, started: started) }
        var lines: [String] = []
        var documents: [JSONValue] = []
        do throws(ProxmoxError) {
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            let present = wanted.compactMap { guest in cluster[guest.id].map { (guest, $0) } }
            for guest in wanted where cluster[guest.id] == nil { lines.append("\(guest.id) \(guest.name): absent (phoenix create \(guest.id) first)") }
            let plans = try await client.configPlans(for: present)
            for plan in plans {
                let name = estate.guest(plan.guest.vmid)?.name ?? plan.guest.name
                if plan.changes.isEmpty {
                    lines.append("\(plan.guest.vmid) \(name): as configured")
                    continue
                }
                for change in plan.changes { lines.append("\(plan.guest.vmid) \(name): \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
                var waiting: [String] = []
                if !dryRun {
                    waiting = try await client.apply(plan)
                    if !waiting.isEmpty {
                        if reboot {
                            try await client.reboot(plan.guest, timeout: 300)
                            lines.append("\(plan.guest.vmid) \(name): rebooted for \(waiting.joined(separator: ", "))")
                        } else {
                            lines.append("\(plan.guest.vmid) \(name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                        }
                    }
                }
                documents.append(.object([
                    ("id", .string(String(plan.guest.vmid))),
                    ("changes", .array(plan.changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })),
                    ("waiting_for_reboot", .array(waiting.map(JSONValue.string))),
                ]))
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        if format == .json {
            let document = JSONValue.object([("version", .number(1)), ("dry_run", .bool(dryRun)), ("guests", .array(documents))])
            FileHandle.standardOutput.write(Data((JSONWriter().string(document) + "\n").utf8))
        } else {
            let changed = documents.count
            lines.append(dryRun ? "Dry run: \(changed) guests would change; nothing was changed." : "\(changed) guests changed.")
            FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
        }
    }
}

/// `phoenix letsgo`: create what is missing, converge, start everything, then sync for the guests that ask for it.
struct LetsGoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letsgo",
        abstract: "Create every missing guest, converge and start them all in dependency order; then tell which guests ask for a sync.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions

    func run() async throws {
        // The same options reach each step as given to letsgo (they share global and API options).
        let arguments = Array(CommandLine.arguments.drop { $0 != "letsgo" }.dropFirst())
        let create = try CreateCommand.parse(arguments)
        try await create.run()
        let converge = try ConvergeCommand.parse(arguments)
        try await converge.run()
        let start = try StartCommand.parse(arguments)
        try await start.run()
        let estate = try global.loadValidEstate()
        let asking = estate.guests.filter(\.triggerSyncOnCompletion).map { String($0.id) }
        if !asking.isEmpty {
            FileHandle.standardOutput.write(Data("Guests \(asking.joined(separator: ", ")) ask for a sync: run phoenix sync all.\n".utf8))
        }
    }
}

/// `phoenix firewall`: converges the Proxmox firewall through the API instead of files.
struct FirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewall",
        abstract: "Converge the cluster's and the guests' firewall rules and options through the API, plan first.",
        discussion: "Rules phoenix manages carry \"\(APIRule.marker)\" in their comment; other rules are left alone. The plan is the smallest edit, not a rebuilt list.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false

    func run() async throws {
        let estate = try global.loadValidEstate()
        let client = try proxmox.client()
        var lines: [String] = []
        do throws(ProxmoxError) {
            var scopes: [(String, String, [FirewallRule], [(key: String, value: String)])] = []
            if estate.firewall.declared {
                scopes.append((
                    "cluster", "/cluster/firewall", estate.firewall.rules,
                    [("enable", estate.firewall.enabled ? "1" : "0"), ("policy_in", estate.firewall.policyIn.rawValue), ("policy_out", estate.firewall.policyOut.rawValue)]
                ))
            }
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            for guest in estate.guests where guest.enabled {
                guard let firewall = guest.firewall else { continue }
                guard let actual = cluster[guest.id] else {
                    lines.append("guest \(guest.id): not on the cluster, its firewall waits for phoenix create")
                    continue
                }
                scopes.append(("guest \(guest.id)", "\(actual.path)/firewall", firewall.rules, [("enable", firewall.enabled ? "1" : "0")]))
            }
            for (name, base, rules, options) in scopes {
                let plan = try await client.firewallPlan(name: name, base: base, rules: rules, options: options)
                if plan.isEmpty {
                    lines.append("\(name): as configured")
                    continue
                }
                for change in plan.options { lines.append("\(name): option \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
                for edit in plan.edits {
                    switch edit {
                    case let .delete(position, rule): lines.append("\(name): - rule \(position): \(rule.text)")
                    case let .insert(position, rule): lines.append("\(name): + rule \(position): \(rule.text)")
                    }
                }
                if !dryRun { try await client.apply(plan) }
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        lines.append(dryRun ? "Dry run: nothing was changed." : "Firewall converged.")
        FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
    }
}
