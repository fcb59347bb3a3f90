import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine

/// The docker CLI on this host, pointed at the manager's daemon (`--host`, and the TLS files for a
/// TCP endpoint). The compose file is written 0600 into a private folder and passed by path; no
/// secret is on its command line or in its environment (the rendered file names secrets, it never
/// holds their values).
public struct CLIStackDeployer: StackDeployer {
    public let cli: String
    public let endpoint: DockerEndpoint
    public let resolveImage: String
    public var timeout: Double = 300

    public init(cli: String, endpoint: DockerEndpoint, resolveImage: String) {
        self.cli = cli
        self.endpoint = endpoint
        self.resolveImage = resolveImage
    }

    /// The CLI's environment: only what it needs to find itself and the registry credentials
    /// `--with-registry-auth` forwards (`HOME`, `DOCKER_CONFIG`). Nothing else of phoenix's own
    /// (an API token in `$PHOENIX_API_TOKEN`, say) reaches it, and no DOCKER_HOST or context can
    /// point it away from `--host`.
    public static func environment(_ mine: [String: String]) -> [String] {
        ["PATH", "HOME", "DOCKER_CONFIG", "LANG", "TMPDIR"].compactMap { key in mine[key].map { "\(key)=\($0)" } }
    }

    public func deploy(namespace: String, compose: String, prune: Bool) async -> CommandResult {
        let folder = NSTemporaryDirectory() + "phoenix-stack-\(getpid())-\(UUID().uuidString)"
        guard mkdir(folder, 0o700) == 0 else { return CommandResult(status: 1, stdout: "", stderr: "cannot make a private folder for the compose file") }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/\(namespace).yml"
        guard FileManager.default.createFile(atPath: file, contents: Data(compose.utf8), attributes: [.posixPermissions: 0o600]) else {
            return CommandResult(status: 1, stdout: "", stderr: "cannot write the compose file")
        }
        var argv = ["/usr/bin/env", "-i"] + Self.environment(ProcessInfo.processInfo.environment) + [cli]
        argv += endpoint.cliArguments
        argv += ["stack", "deploy", "--compose-file", file, "--resolve-image", resolveImage, "--with-registry-auth"]
        if prune { argv.append("--prune") }
        argv.append(namespace)
        do throws(ProcessRunner.Failure) {
            return try await ProcessRunner.run(argv, timeout: timeout)
        } catch {
            return CommandResult(status: 127, stdout: "", stderr: error.description)
        }
    }
}
