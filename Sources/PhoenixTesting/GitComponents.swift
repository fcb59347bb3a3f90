import Foundation

extension Component {
    /// The system git, which the agent's git adapter runs.
    public static let git = programs("git", ["git"])
    /// git's own daemon (the git:// protocol), in Debian's git package.
    public static let gitDaemon = Component("git daemon (/usr/lib/git-core/git-daemon)") {
        FileManager.default.isExecutableFile(atPath: GitServers.daemon) ? nil : "\(GitServers.daemon) is missing (Debian's git package)"
    }
    /// git's smart HTTP backend behind nginx and fcgiwrap (Debian's git, nginx and fcgiwrap packages).
    public static let gitHTTP = Component("git http-backend behind nginx and fcgiwrap") {
        if TestPaths.program("nginx") == nil { return "nginx is not on PATH" }
        if TestPaths.program("fcgiwrap") == nil { return "fcgiwrap is not on PATH" }
        return FileManager.default.isExecutableFile(atPath: GitServers.httpBackend) ? nil : "\(GitServers.httpBackend) is missing (Debian's git package)"
    }
    /// GnuPG, for signed commits.
    public static let gpg = programs("gpg", ["gpg", "gpgconf"])
}

/// Where Debian's git keeps its servers.
public enum GitServers {
    public static let daemon = "/usr/lib/git-core/git-daemon"
    public static let httpBackend = "/usr/lib/git-core/git-http-backend"
}
