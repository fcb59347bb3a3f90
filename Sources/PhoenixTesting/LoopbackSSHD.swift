import Foundation

/// A real sshd for tests, on 127.0.0.1 only: its configuration written into `directory` (which
/// holds `host_key` and `authorized_keys`), key login only, run in the foreground and stopped by pid.
public enum LoopbackSSHD {
    /// Writes `sshd_config` and starts sshd on `port`; the caller waits for it to listen.
    public static func start(port: Int, directory: TemporaryDirectory) throws -> RunningProcess {
        guard let sshd = TestPaths.program("sshd") else { throw WaitTimedOut(description: "sshd is not on PATH") }
        try directory.write(
            "sshd_config",
            """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(directory.file("host_key"))
            AuthorizedKeysFile \(directory.file("authorized_keys"))
            PidFile \(directory.file("sshd.pid"))
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            # The keys live under /tmp, which is world-writable (sticky): StrictModes would refuse them.
            StrictModes no
            """)
        // sshd wants its privilege-separation directory even when it never uses it.
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        return try RunningProcess(sshd, ["-D", "-e", "-f", directory.file("sshd_config")], logFile: directory.file("sshd.log"))
    }
}
