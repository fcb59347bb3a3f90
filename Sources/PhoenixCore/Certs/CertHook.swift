import Foundation

/// A `post_renewal_command` of the manifest, understood: the original's hooks stage files from
/// /tmp, chown and chmod them, and reload a service. phoenix installs the files itself, so a hook
/// reduces to what it reloads. Anything phoenix does not recognise runs through one explicit
/// `sh -c` on the host, with a warning in plan and sync.
public enum CertHook: Sendable, Equatable {
    /// `systemctl reload|restart UNIT` on the host (`guest` nil) or in a guest.
    case service(verb: String, unit: String, guest: Int?)
    /// The script rotates these Swarm secrets (`docker secret create NAME /tmp/cert.pem`): the swarm
    /// kind does that with versioned secrets fed by this certificate, so nothing runs here.
    case swarmSecrets([CertSecretFeed])
    /// Not a form phoenix knows: `sh -c TEXT` on the host.
    case shell(String)

    /// The hook's steps, in order; nil text gives none.
    public static func parse(_ text: String) -> [CertHook] {
        let words = ShellWords.split(text)
        guard let words, !words.isEmpty else { return [.shell(text)] }
        var guest: Int?
        var command = words[...]
        if words.count > 3, words[0] == "pct", words[1] == "exec", let id = Int(words[2]) {
            guest = id
            command = words.dropFirst(3)
        } else if words.count > 4, words[0] == "qm", words[1] == "guest", words[2] == "exec", let id = Int(words[3]) {
            guest = id
            command = words.dropFirst(4)
        }
        if command.first == "--" { command = command.dropFirst() }
        var script: String?
        if command.count == 3, ["/bin/bash", "bash", "/bin/sh", "sh"].contains(command[command.startIndex]), command[command.startIndex + 1] == "-c" {
            script = command[command.startIndex + 2]
        }
        guard let script else {
            if let hook = service(Array(command), guest: guest) { return [hook] }
            return [.shell(text)]
        }
        return steps(of: script, guest: guest) ?? [.shell(text)]
    }

    /// The steps of an original hook's script; nil when part of it is not understood.
    static func steps(of script: String, guest: Int?) -> [CertHook]? {
        // Docker's own TLS material loads only on a start: `is-active && reload || start` is a restart.
        let script = script.replacingOccurrences(
            of: "(systemctl is-active --quiet docker && systemctl reload docker || systemctl start docker)", with: "systemctl restart docker")
        if script.contains("docker secret create") {
            var names: [String] = []
            let words = ShellWords.split(script.replacingOccurrences(of: ";", with: " ; ")) ?? []
            var variables: [String: String] = [:]
            for word in words where word.contains("=") && !word.hasPrefix("-") {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { variables[parts[0]] = parts[1] }
            }
            var feeds: [CertSecretFeed] = []
            for index in words.indices.dropLast(4) where words[index] == "docker" && words[index + 1] == "secret" && words[index + 2] == "create" {
                var name = words[index + 3]
                if name.hasPrefix("$") { name = variables[String(name.dropFirst())] ?? name }
                let file = words[index + 4].trimmingCharacters(in: CharacterSet(charactersIn: ";"))
                guard let part = CertSecretFeed.Part(stagedFile: file), !names.contains(name) else { continue }
                names.append(name)
                feeds.append(CertSecretFeed(secret: name, part: part))
            }
            return [.swarmSecrets(feeds)]
        }
        // Only plain sequences are understood: `a && b`, `a; b`, one per line. A pipe, an `||` or a
        // subshell is logic phoenix does not guess at (the whole hook then runs through sh -c).
        if script.contains("|") || script.contains("(") || script.contains("`") || script.contains("$(") { return nil }
        var hooks: [CertHook] = []
        let segments = script.replacingOccurrences(of: "&&", with: "\n").replacingOccurrences(of: ";", with: "\n").split(separator: "\n")
        for segment in segments {
            guard let words = ShellWords.split(String(segment)) else { return nil }
            guard let first = words.first else { continue }
            if ["mkdir", "mv", "chown", "chmod", "cp"].contains(first) { continue }
            guard let hook = service(words, guest: guest) else { return nil }
            hooks.append(hook)
        }
        return hooks
    }

    static func service(_ words: [String], guest: Int?) -> CertHook? {
        guard words.count == 3, words[0] == "systemctl", ["reload", "restart"].contains(words[1]) else { return nil }
        // dockerd does not reload TLS material (moby's reloadable options): a restart.
        let verb = words[2] == "docker" ? "restart" : words[1]
        return .service(verb: verb, unit: words[2], guest: guest)
    }

    /// For plan lines and the README: what the hook does now.
    public var summary: String {
        switch self {
        case let .service(verb, unit, guest): return "\(verb) \(unit)" + (guest.map { " in guest \($0)" } ?? " on the host")
        case let .swarmSecrets(feeds): return "Swarm secrets \(feeds.map(\.secret).joined(separator: ", ")) (rotated by the swarm stage)"
        case .shell: return "a shell command on the host (sh -c)"
        }
    }
}

/// A Swarm secret whose value is part of a certificate: the original's hooks created it from the
/// staged `/tmp/cert.pem`, `/tmp/key.pem` or `/tmp/ca.pem`.
public struct CertSecretFeed: Sendable, Equatable {
    public enum Part: String, Sendable {
        case certificate, key, ca

        init?(stagedFile: String) {
            switch stagedFile {
            case "/tmp/cert.pem": self = .certificate
            case "/tmp/key.pem": self = .key
            case "/tmp/ca.pem": self = .ca
            default: return nil
            }
        }
    }

    public let secret: String
    public let part: Part

    /// Every secret fed by a certificate of the manifest: the certificate and the part.
    public static func all(in estate: Estate) -> [String: (request: CertificateRequest, part: Part)] {
        var feeds: [String: (request: CertificateRequest, part: Part)] = [:]
        for request in estate.certificates {
            for hook in request.hooks.flatMap(CertHook.parse) {
                guard case let .swarmSecrets(list) = hook else { continue }
                for feed in list where feeds[feed.secret] == nil { feeds[feed.secret] = (request, feed.part) }
            }
        }
        return feeds
    }
}

/// Splits a command line into words the way sh does for the quoting the original's hooks use
/// (single and double quotes, backslash escapes); nil when a quote is not closed. Never executes.
public enum ShellWords {
    public static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                escaped = true
                inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            default:
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { return nil }
        if inWord { words.append(current) }
        return words
    }
}
