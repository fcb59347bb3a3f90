import Foundation
import Synchronization

/// A directory under /tmp, readable by every user (dnsmasq and nginx workers run as nobody).
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "phoenix") throws {
        let template = "/tmp/\(label).XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let result = mkdtemp(&bytes) else { throw POSIXError(.EIO) }
        path = String(cString: result)
        chmod(path, 0o755)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func write(_ name: String, _ contents: String) throws {
        let full = file(name)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: full, atomically: true, encoding: .utf8)
        chmod(full, 0o644)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
/// A free TCP port on 127.0.0.1 for a server a test starts. Taken from 20000–32767, below Linux's
/// ephemeral range (32768–60999): a port the kernel handed out for bind(0) could meanwhile become
/// the local end of one of the many connections the suite makes (curl, git, the Engine API), and the
/// server then fails to bind it (seen: a lab nginx that never answered). A port is handed out once
/// per process.
public enum FreePort {
    private static let handedOut = Mutex<Set<Int>>([])

    public static func allocate() -> Int {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let port = Int.random(in: 20_000...32_767, using: &generator)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if bindable(port) { return port }
        }
        preconditionFailure("no free port in 20000-32767 after 2,000 tries")
    }

    /// Whether a listening socket can take `port` on 127.0.0.1 now.
    static func bindable(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0
    }
}

/// Where the project and the real programs are.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var exampleEstate: String { "\(packageRoot)/Examples/estate" }
    /// axe-core's script, for the dashboard's accessibility check.
    public static var axeScript: String { "\(packageRoot)/.venv-it/share/axe-core/axe.min.js" }

    /// Where the original's files (phoenix-original, from the reference material) are looked for:
    /// `$PHOENIX_REFERENCE`, else `../shared/reference/phoenix-original` beside the project.
    public static var referencePath: String {
        if let explicit = ProcessInfo.processInfo.environment["PHOENIX_REFERENCE"], !explicit.isEmpty { return explicit }
        return URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/reference/phoenix-original").path
    }

    /// The original's files, when they are there.
    public static var referenceConfigs: String? {
        FileManager.default.fileExists(atPath: "\(referencePath)/etc") ? referencePath : nil
    }

    /// Looks a program up on PATH, where phoenix itself (posix_spawnp) and the services it starts
    /// find it; Traefik also as PHOENIX_TRAEFIK or .venv-it/bin/traefik.
    public static func program(_ name: String) -> String? {
        if name == "traefik" {
            if let explicit = ProcessInfo.processInfo.environment["PHOENIX_TRAEFIK"], FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
            let venv = "\(packageRoot)/.venv-it/bin/traefik"
            if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// CI is recognised by the `CI` variable (set by the CI services and by .ci/run), anything but
    /// empty, `0` or `false`.
    public static var isCI: Bool {
        !["", "0", "false"].contains((ProcessInfo.processInfo.environment["CI"] ?? "").lowercased())
    }

    /// The tests that read the original's files run when they are there, and in CI, where their
    /// absence fails; elsewhere (a clone outside this layout, even under scripts/test.sh) they are
    /// skipped with `referenceReason`.
    public static var referenceAvailable: Bool { isCI || referenceConfigs != nil }

    /// Why the tests that read the original's files are skipped, and the path to set.
    public static var referenceReason: String {
        "needs the original's files (the reference material's phoenix-original) at \(referencePath): "
            + "set PHOENIX_REFERENCE to that folder (in CI, with CI set, their absence fails)"
    }

    /// When set (the README's test command sets it), a missing real program fails the test instead of skipping it.
    public static var realComponentsRequired: Bool {
        ProcessInfo.processInfo.environment["PHOENIX_REQUIRE_REAL_COMPONENTS"] == "1"
    }
}
