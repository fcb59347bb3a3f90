import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices

/// How phoenix reaches the Proxmox API. The token is read from a file or the environment, never
/// from the command line (where `ps` would show it).
struct APIConnection: ParsableArguments {
    @Option(name: .long, help: "The Proxmox API, https://host:8006 (default: $PHOENIX_API).")
    var api: String?

    @Option(name: .long, help: "The CA the API's certificate chains to, the cluster's pve-root-ca.pem (default: $PHOENIX_API_CA).")
    var apiCa: String?

    @Option(
        name: .long,
        help: "A file holding the API token user@realm!tokenid=secret (default: $PHOENIX_API_TOKEN_FILE, or the token itself in $PHOENIX_API_TOKEN).")
    var apiTokenFile: String?

    @Option(
        name: .long,
        help: "Sign in with a ticket as this user (root@pam) instead of a token; the password from $PHOENIX_API_PASSWORD_FILE or $PHOENIX_API_PASSWORD.")
    var apiUser: String?

    /// Whether an API is named at all (--api or $PHOENIX_API).
    var isConfigured: Bool { api != nil || !(ProcessInfo.processInfo.environment["PHOENIX_API"] ?? "").isEmpty }

    /// Why no client could be made: what to fix, and the exit code (64 for a usage problem).
    struct SetupError: Error, CustomStringConvertible {
        let description: String
        var code: Int32 = 1
    }

    func client(counter: CallCounter = CallCounter()) throws -> ProxmoxClient {
        do { return try makeClient(counter: counter) } catch let error as SetupError { throw fail(error.description, code: error.code) }
    }

    /// The client, or a SetupError that prints nothing (for callers that report it their own way).
    func makeClient(counter: CallCounter = CallCounter()) throws -> ProxmoxClient {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        guard let endpoint = api ?? environment["PHOENIX_API"] else {
            throw SetupError(description: "name the Proxmox API with --api https://host:8006 or $PHOENIX_API", code: 64)
        }
        let ca = apiCa ?? environment["PHOENIX_API_CA"]
        let caSetting = apiCa != nil ? "--api-ca" : "$PHOENIX_API_CA"
        if let user = apiUser ?? environment["PHOENIX_API_USER"] {
            var password = environment["PHOENIX_API_PASSWORD"]
            if let file = environment["PHOENIX_API_PASSWORD_FILE"] {
                guard let data = FileManager.default.contents(atPath: file) else { throw SetupError(description: "cannot read the API password file \(file)") }
                password = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            guard let password else { throw SetupError(description: "no password for \(user): set $PHOENIX_API_PASSWORD_FILE", code: 64) }
            do {
                return try ProxmoxClient(endpoint: endpoint, auth: .ticket(user: user, password: password), caFile: ca, caSetting: caSetting, counter: counter)
            } catch {
                throw SetupError(description: error.description)
            }
        }
        var token = environment["PHOENIX_API_TOKEN"]
        if let file = apiTokenFile ?? environment["PHOENIX_API_TOKEN_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else { throw SetupError(description: "cannot read the API token file \(file)") }
            token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let token, token.contains("!"), token.contains("=") else {
            throw SetupError(
                description: "no API token: put user@realm!tokenid=secret in a file named by --api-token-file or $PHOENIX_API_TOKEN_FILE", code: 64)
        }
        do { return try ProxmoxClient(endpoint: endpoint, auth: .token(token), caFile: ca, caSetting: caSetting, counter: counter) } catch {
            throw SetupError(description: error.description)
        }
    }
}

/// The options of the guest commands: the API, the state store, `--stats`.
struct ProxmoxOptions: ParsableArguments {
    @OptionGroup var connection: APIConnection

    /// The state store, where converge records what it left on each guest.
    @OptionGroup var stateStore: StateOptions

    @Flag(name: .long, help: "Print on stderr the number of API calls and the wall time.")
    var stats = false

    /// The `--stats` line: the wall time and the API calls made since `before` (the client's
    /// counter may be shared with earlier steps).
    func printStats(_ client: ProxmoxClient, started: Date, before: Int = 0) {
        guard stats else { return }
        let line = String(format: "stats: %.3f s, %d API calls\n", Date().timeIntervalSince(started), client.counter.total - before)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Runs `body` with a client of these options: shut down however `body` ends, its failure
    /// printed as the command's error, `--stats` printed after. `counter` counts its calls (letsgo
    /// hands one to all its steps).
    func withClient<T: Sendable>(counter: CallCounter = CallCounter(), _ body: (ProxmoxClient) async throws(ProxmoxError) -> T) async throws -> T {
        let started = Date()
        let before = counter.total
        let client = try connection.client(counter: counter)
        defer { printStats(client, started: started, before: before) }
        return try await connection.run(client, body)
    }
}

extension APIConnection {
    /// Runs `body` with a client: shut down however `body` ends, its failure printed as the
    /// command's error (exit 1).
    func withClient<T: Sendable>(_ body: (ProxmoxClient) async throws(ProxmoxError) -> T) async throws -> T {
        try await run(try client(), body)
    }

    func run<T: Sendable>(_ client: ProxmoxClient, _ body: (ProxmoxClient) async throws(ProxmoxError) -> T) async throws -> T {
        do throws(ProxmoxError) {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
    }
}

extension ProxmoxOptions {
    /// Plans (`dryRun`) or converges `stage` through the API with the registered kinds, the
    /// environment set up by `configure`: what `converge` and `firewall` share. A dry run never
    /// creates the state store; a real run records itself and holds the lock.
    func converge(
        _ estate: Estate, _ stage: SyncStage, command: String, dryRun: Bool, counter: CallCounter = CallCounter(),
        configure: @escaping @Sendable (inout KindEnvironment) -> Void
    ) async throws -> SyncService.Outcome {
        let location = try stateStore.location
        let store = dryRun ? try await location.existing() : try await location.writable()
        let lockWait = stateStore.lockWait
        return try await withClient(counter: counter) { client async throws(ProxmoxError) -> Result<SyncService.Outcome, any Error> in
            var environment = KindEnvironment(estate: estate, stages: [stage], stats: RunStats())
            environment.proxmox = client
            environment.failpoints = Failpoints.fromEnvironment()
            configure(&environment)
            var service = await SyncService.assemble(environment)
            service.lockWait = lockWait
            do {
                guard !dryRun, let store else { return .success(try await service.plan(store: store)) }
                return .success(try await service.sync(store: store, command: command))
            } catch {
                return .failure(error)
            }
        }.get()
    }
}
