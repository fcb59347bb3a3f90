import Foundation
import NIOSSL
import PhoenixCore

/// A PEM file phoenix reads for TLS, and the setting that named it, for messages.
public struct TLSFile: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// Where the path came from, as a person would look it up: `--api-ca`,
    /// `phoenix.docker.tls.ca_file (not set: the original's default)`.
    public var setting: String?

    public init(_ path: String, setting: String? = nil) {
        self.path = path
        self.setting = setting
    }

    public var description: String { path }
}

/// Why a TLS file could not be used: not there, not readable, or not PEM; names the file and the
/// setting that named it, never its contents.
public struct TLSFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

/// TLS settings from PEM files, each failure naming the file and the setting that named it (never
/// the contents), and telling a file that is not there or cannot be read from one that is not PEM.
public enum TLSFiles {
    /// A client configuration trusting only `rootPEM` (a pinned root: a proxy's certificate fails),
    /// presenting `client` (a certificate chain and its key, in memory) when given.
    public static func pinned(rootPEM: String, client: (chainPEM: String, keyPEM: String)? = nil) throws(HTTPTransportError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(rootPEM.utf8)))
        } catch {
            throw .tls("the pinned root is not a PEM certificate")
        }
        if let client {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(client.chainPEM.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(client.keyPEM.utf8), format: .pem))
            } catch {
                throw .tls("the client certificate or its key is not PEM")
            }
        }
        return tls
    }

    /// A client configuration trusting `caFile` (nil: the system's roots), presenting `client`'s
    /// certificate and key when given.
    public static func configuration(
        caFile: TLSFile?, client: (certFile: TLSFile, keyFile: TLSFile)? = nil
    ) throws(TLSFileError)
        -> TLSConfiguration
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            let bytes = try read(caFile, what: "the CA certificate")
            guard let roots = try? NIOSSLCertificate.fromPEMBytes(bytes), !roots.isEmpty else {
                throw TLSFileError(description: message("the CA certificate", caFile, "is not a PEM certificate file"))
            }
            tls.trustRoots = .certificates(roots)
        }
        if let client {
            let chainBytes = try read(client.certFile, what: "the client certificate")
            guard let chain = try? NIOSSLCertificate.fromPEMBytes(chainBytes), !chain.isEmpty else {
                throw TLSFileError(description: message("the client certificate", client.certFile, "is not a PEM certificate file"))
            }
            tls.certificateChain = chain.map { .certificate($0) }
            let keyBytes = try read(client.keyFile, what: "the client key")
            guard let key = try? NIOSSLPrivateKey(bytes: keyBytes, format: .pem) else {
                throw TLSFileError(description: message("the client key", client.keyFile, "is not a PEM private key"))
            }
            tls.privateKey = .privateKey(key)
        }
        return tls
    }

    /// The bytes of `file`, or why they cannot be had: not there, a directory, not readable, empty.
    static func read(_ file: TLSFile, what: String) throws(TLSFileError) -> [UInt8] {
        var status = stat()
        guard stat(file.path, &status) == 0 else {
            let reason = errno == ENOENT || errno == ENOTDIR ? "does not exist on this machine" : "cannot be reached: \(String(cString: strerror(errno)))"
            throw TLSFileError(description: message(what, file, reason))
        }
        if status.st_mode & S_IFMT == S_IFDIR { throw TLSFileError(description: message(what, file, "is a directory, not a PEM file")) }
        let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = errno == EACCES ? "cannot be read by user \(getuid()) (permission denied)" : "cannot be read: \(String(cString: strerror(errno)))"
            throw TLSFileError(description: message(what, file, reason))
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        guard let data = try? handle.readToEnd() else {
            if status.st_size == 0 { throw TLSFileError(description: message(what, file, "is empty")) }
            throw TLSFileError(description: message(what, file, "cannot be read: \(String(cString: strerror(errno)))"))
        }
        guard !data.isEmpty else { throw TLSFileError(description: message(what, file, "is empty")) }
        return Array(data)
    }

    /// `the CA certificate /etc/docker/tls/ca.pem does not exist on this machine (named by
    /// phoenix.docker.tls.ca_file …)`.
    static func message(_ what: String, _ file: TLSFile, _ problem: String) -> String {
        "\(what) \(file.path) \(problem)" + (file.setting.map { " (named by \($0))" } ?? "")
    }
}
