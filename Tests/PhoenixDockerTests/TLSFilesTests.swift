import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixTesting
import Testing

/// The client's TLS files as DockerClient.live reads them (real files in a temporary directory, a
/// real openssl for the valid certificate and key; nothing is dialled): a file that is not there,
/// cannot be reached or read, is empty or is not PEM is each said as such, with the path and the
/// setting that named it.
@Suite("TLS files: missing, unreadable and not PEM told apart")
struct TLSFilesTests {
    struct Lab {
        let directory: TemporaryDirectory
        let settings = (ca: "phoenix.docker.tls.ca_file", cert: "phoenix.docker.tls.cert_file", key: "phoenix.docker.tls.key_file")

        init() throws {
            directory = try TemporaryDirectory("phoenix-tls")
            let openssl = try #require(TestPaths.program("openssl"), "openssl makes the valid certificate and key")
            let made = try Command.run(
                openssl,
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=lab", "-days", "1",
                    "-keyout", directory.file("key.pem"), "-out", directory.file("cert.pem"),
                ])
            try #require(made.status == 0, "openssl: \(made.stderr)")
        }

        /// What connecting with these files says (nil: the files were good).
        func failure(ca: String, cert: String? = nil, key: String? = nil) async throws -> DockerError? {
            let tls = DockerEndpoint.TLS(
                caFile: ca, certFile: cert ?? directory.file("cert.pem"), keyFile: key ?? directory.file("key.pem"), settings: settings)
            let endpoint = try #require(DockerEndpoint("tcp://127.0.0.1:2376", tls: tls))
            do throws(DockerError) {
                // Made, not dialled: shut down at once (an HTTP client must be).
                try await DockerClient.live(endpoint).shutdown()
                return nil
            } catch {
                return error
            }
        }
    }

    @Test("a CA file that does not exist says so, where phoenix looked, and which setting named it")
    func missing() async throws {
        let lab = try Lab()
        let path = lab.directory.file("nowhere/ca.pem")
        let error = try #require(try await lab.failure(ca: path))
        #expect(error.kind == .localFile)
        #expect(
            error.description
                == "reading the client's TLS files for tcp://127.0.0.1:2376: the CA certificate \(path) does not exist on this machine (named by phoenix.docker.tls.ca_file)",
            "\(error)")
        #expect(!error.description.contains("PEM"))
    }

    @Test("a directory, a path that cannot be reached, an empty file and a file that is not PEM are each named as such")
    func otherProblems() async throws {
        let lab = try Lab()
        let directory = lab.directory.file("dir")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let loop = lab.directory.file("loop")
        try #require(symlink(loop, loop) == 0)
        let empty = lab.directory.file("empty.pem")
        let garbage = lab.directory.file("garbage.pem")
        try #require(FileManager.default.createFile(atPath: empty, contents: Data()))
        try #require(FileManager.default.createFile(atPath: garbage, contents: Data("not a certificate\n".utf8)))

        let cases: [(String, String)] = [
            (directory, "the CA certificate \(directory) is a directory, not a PEM file"),
            (loop, "the CA certificate \(loop) cannot be reached: Too many levels of symbolic links"),
            (empty, "the CA certificate \(empty) is empty"),
            (garbage, "the CA certificate \(garbage) is not a PEM certificate file (named by phoenix.docker.tls.ca_file)"),
        ]
        for (path, expected) in cases {
            let error = try #require(try await lab.failure(ca: path), "\(path) was accepted")
            #expect(error.description.contains(expected), "\(error)")
        }
        #expect(try await lab.failure(ca: lab.directory.file("cert.pem")) == nil, "a real PEM certificate and key are accepted")
    }

    @Test("the client certificate and key are named by their own settings")
    func clientFiles() async throws {
        let lab = try Lab()
        let ca = lab.directory.file("cert.pem")
        let certificate = lab.directory.file("client.pem")
        let missingCert = try #require(try await lab.failure(ca: ca, cert: certificate))
        #expect(
            missingCert.description.contains("the client certificate \(certificate) does not exist on this machine (named by phoenix.docker.tls.cert_file)"),
            "\(missingCert)")
        // A certificate where the key belongs: there, but not a key.
        let notKey = try #require(try await lab.failure(ca: ca, key: ca))
        #expect(notKey.description.contains("the client key \(ca) is not a PEM private key (named by phoenix.docker.tls.key_file)"), "\(notKey)")
    }

    @Test("a file phoenix may not read is said to be unreadable (not run as root: root reads any file)", .enabled(if: getuid() != 0))
    func unreadable() async throws {
        let lab = try Lab()
        let locked = lab.directory.file("locked.pem")
        try FileManager.default.copyItem(atPath: lab.directory.file("cert.pem"), toPath: locked)
        chmod(locked, 0)
        let error = try #require(try await lab.failure(ca: locked))
        #expect(error.description.contains("the CA certificate \(locked) cannot be read by user \(getuid()) (permission denied)"), "\(error)")
    }

    @Test("the settings say when a path is the original's default")
    func settingNames() {
        var settings = DockerSettings()
        #expect(settings.tlsSettings.ca == "phoenix.docker.tls.ca_file, not set: the original's default")
        settings.tls?.caFile = "/srv/docker/ca.pem"
        #expect(settings.tlsSettings.ca == "phoenix.docker.tls.ca_file")
        #expect(settings.tlsSettings.key == "phoenix.docker.tls.key_file, not set: the original's default")
    }
}
