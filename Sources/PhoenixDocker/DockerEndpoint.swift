import PhoenixCore

/// Where a Docker daemon listens and how phoenix proves itself to it: a unix socket, or TCP with
/// TLS (the original's daemons: `tcp://<vm ip>:2376`, client material under `/etc/docker/tls`).
public struct DockerEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Address: Sendable, Hashable {
        case unix(path: String)
        case tcp(host: String, port: Int)
    }

    /// The client's TLS material: the CA the daemon's certificate chains to, and phoenix's own
    /// certificate and key (paths; the files are read when the connection is made).
    public struct TLS: Sendable, Hashable {
        public var caFile: String
        public var certFile: String
        public var keyFile: String
        /// The settings that named each file (`phoenix.docker.tls.ca_file`), for messages.
        public var caSetting: String?
        public var certSetting: String?
        public var keySetting: String?

        public init(caFile: String, certFile: String, keyFile: String, settings: (ca: String, cert: String, key: String)? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            caSetting = settings?.ca
            certSetting = settings?.cert
            keySetting = settings?.key
        }
    }

    public var address: Address
    /// TLS for a TCP endpoint (nil: plain TCP, which a daemon should never offer beyond loopback).
    public var tls: TLS?

    public init(address: Address, tls: TLS? = nil) {
        self.address = address
        self.tls = tls
    }

    /// `unix:///run/docker.sock` or `tcp://10.0.0.111:2376`.
    public init?(_ text: String, tls: TLS? = nil) {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard TextRules.isAbsolutePath(path) else { return nil }
            self.init(address: .unix(path: path))
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            let host = String(rest[..<colon])
            guard !host.isEmpty, host.utf8.allSatisfy({ TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
            else { return nil }
            self.init(address: .tcp(host: host, port: port), tls: tls)
        } else {
            return nil
        }
    }

    /// The form the docker CLI's `--host` takes.
    public var description: String {
        switch address {
        case let .unix(path): return "unix://\(path)"
        case let .tcp(host, port): return "tcp://\(host):\(port)"
        }
    }

    /// The `Host` header every request sends (the daemon's HTTP server wants one; a unix socket has no host).
    var hostHeader: String {
        switch address {
        case .unix: return "docker"
        case let .tcp(host, port): return "\(host):\(port)"
        }
    }

    /// The docker CLI's connection options for this endpoint: argv, paths only (no key material).
    public var cliArguments: [String] {
        var arguments = ["--host", description]
        if let tls {
            arguments += ["--tlsverify", "--tlscacert", tls.caFile, "--tlscert", tls.certFile, "--tlskey", tls.keyFile]
        }
        return arguments
    }
}
