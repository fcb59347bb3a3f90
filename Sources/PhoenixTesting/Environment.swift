import Foundation

/// A directory under /tmp, readable by every user (dnsmasq and nginx workers run as nobody).
public final class TemporaryDirectory: @unchecked Sendable {
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
public enum FreePort {
    public static func allocate() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
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

    /// `../shared/reference/phoenix-original`, when it is present beside the project.
    public static var referenceConfigs: String? {
        let path = URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/reference/phoenix-original").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Looks a program up on PATH and in the usual system folders.
    public static func program(_ name: String) -> String? {
        if name == "traefik" {
            if let explicit = ProcessInfo.processInfo.environment["PHOENIX_TRAEFIK"], FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
            let venv = "\(packageRoot)/.venv-it/bin/traefik"
            if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// In CI (`CI` set) or under the README's test command, a missing ../shared/reference fails the
    /// tests that read it instead of skipping them.
    public static var referenceRequired: Bool {
        realComponentsRequired || !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty
    }

    /// When set (the README's test command sets it), a missing real program fails the test instead of skipping it.
    public static var realComponentsRequired: Bool {
        ProcessInfo.processInfo.environment["PHOENIX_REQUIRE_REAL_COMPONENTS"] == "1"
    }
}
