extension EstateLoader {
    /// The original's `docker` block: the Portainer images.
    func loadDockerImages(_ root: JSONCursor, into docker: inout DockerSettings) {
        if let block = root.child("docker"), block.expectObject("docker") {
            if let image = imageName(block.child("portainer_server_image")) { docker.portainerServerImage = image }
            if let image = imageName(block.child("portainer_agent_image")) { docker.portainerAgentImage = image }
        }
        if let port = root.child("network")?.child("portainer_agent_port")?.intValue, (1...65535).contains(port) { docker.portainerAgentPort = port }
    }

    /// `phoenix.docker`: where each daemon listens, the client's TLS files, the CLI, the deploy's options.
    func loadDocker(_ block: JSONCursor, into docker: inout DockerSettings) {
        block.warnUnknownKeys(
            [
                "endpoints", "port", "tls", "advertise", "cli", "resolve_image", "converge_timeout_seconds", "secrets", "portainer_stack",
                "portainer_agent_mounts",
            ], in: "phoenix.docker")
        if let endpoints = block.child("endpoints"), endpoints.expectObject("phoenix.docker.endpoints") {
            for member in endpoints.value.objectMembers {
                guard let cursor = endpoints.child(member.key), let text = cursor.stringValue else { continue }
                guard let vmid = Int(member.key) else {
                    cursor.error(
                        "phoenix.docker.endpoints is keyed by VMID, found \"\(member.key)\"", hint: "for example {\"1001\": \"tcp://10.0.0.111:2376\"}")
                    continue
                }
                guard Self.isDockerEndpoint(text) else {
                    cursor.error("\(cursor.describe) is not a Docker endpoint", hint: "write unix:///path/docker.sock or tcp://host:port")
                    continue
                }
                docker.endpoints[vmid] = text
            }
        }
        if let port = block.child("port")?.intValue {
            if (1...65535).contains(port) { docker.port = port } else { block.child("port")?.error("\(port) is not a TCP port") }
        }
        if let tls = block.child("tls") {
            switch tls.value {
            case .bool(false): docker.tls = nil
            case .object:
                tls.warnUnknownKeys(["ca_file", "cert_file", "key_file"], in: "phoenix.docker.tls")
                var files = docker.tls ?? DockerSettings.defaultTLS
                if let path = absolutePath(tls.child("ca_file")) { files.caFile = path }
                if let path = absolutePath(tls.child("cert_file")) { files.certFile = path }
                if let path = absolutePath(tls.child("key_file")) { files.keyFile = path }
                docker.tls = files
            default:
                tls.error("phoenix.docker.tls must be an object with ca_file, cert_file and key_file, or false")
            }
        }
        if let advertise = block.child("advertise"), advertise.expectObject("phoenix.docker.advertise") {
            for member in advertise.value.objectMembers {
                guard let cursor = advertise.child(member.key), let text = cursor.stringValue else { continue }
                guard let vmid = Int(member.key), IPv4Address(text) != nil else {
                    cursor.error("phoenix.docker.advertise maps a VMID to an IPv4 address", hint: "for example {\"1001\": \"10.0.0.111\"}")
                    continue
                }
                docker.advertise[vmid] = text
            }
        }
        if let cursor = block.child("cli"), let text = cursor.stringValue {
            if ServiceCommands.isCommand([text]) { docker.cli = text } else { cursor.error("\(cursor.describe) is not a program name or path") }
        }
        if let cursor = block.child("portainer_agent_mounts"), let items = cursor.expectArray("phoenix.docker.portainer_agent_mounts") {
            let mounts = items.compactMap(\.stringValue)
            let valid = mounts.allSatisfy { mount in
                let parts = mount.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                return parts.count == 2 && TextRules.isAbsolutePath(parts[0]) && TextRules.isAbsolutePath(parts[1])
            }
            if valid && mounts.count == items.count {
                docker.portainerAgentMounts = mounts
            } else {
                cursor.error(
                    "phoenix.docker.portainer_agent_mounts lists host:container path pairs", hint: "for example [\"/var/run/docker.sock:/var/run/docker.sock\"]"
                )
            }
        }
        if let cursor = block.child("portainer_stack"), let text = cursor.stringValue {
            if Self.isStackName(text) { docker.portainerStack = text } else { cursor.error("\(cursor.describe) is not a stack name") }
        }
        if let cursor = block.child("resolve_image"), let text = cursor.stringValue {
            if DockerSettings.resolveModes.contains(text) {
                docker.resolveImage = text
            } else {
                cursor.error("\(cursor.describe) is not a --resolve-image mode", hint: "use always, changed or never")
            }
        }
        if let cursor = block.child("converge_timeout_seconds") {
            if case let .number(seconds) = cursor.value, seconds > 0, seconds <= 3600 {
                docker.convergeTimeout = seconds
            } else {
                cursor.error("phoenix.docker.converge_timeout_seconds must be a number of seconds between 0 and 3600")
            }
        }
        if let secrets = block.child("secrets"), secrets.expectObject("phoenix.docker.secrets") {
            for member in secrets.value.objectMembers {
                guard let entry = secrets.child(member.key), entry.expectObject("phoenix.docker.secrets.\(member.key)") else { continue }
                entry.warnUnknownKeys(["file"], in: "phoenix.docker.secrets.\(member.key)")
                guard Self.isSecretName(member.key) else {
                    entry.error("\"\(member.key)\" is not a Swarm secret name", hint: "letters, digits, '.', '_' and '-', at most 54 characters")
                    continue
                }
                if let path = absolutePath(entry.child("file")) { docker.secretFiles[member.key] = path }
            }
        }
    }

    static func isDockerEndpoint(_ text: String) -> Bool {
        if text.hasPrefix("unix://") { return TextRules.isAbsolutePath(String(text.dropFirst(7))) }
        guard text.hasPrefix("tcp://") else { return false }
        let rest = text.dropFirst(6)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else { return false }
        let host = String(rest[..<colon])
        return IPv4Address(host) != nil || DNSName(host) != nil
    }

    /// A Swarm secret name with room for phoenix's `_<hash>` suffix (Docker allows 64 characters).
    public static func isSecretName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 54
            && text.utf8.allSatisfy {
                TextRules.isLetter($0) || TextRules.isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            }
    }

    private func imageName(_ cursor: JSONCursor?) -> String? {
        guard let cursor, let text = cursor.stringValue else { return nil }
        guard !text.isEmpty, TextRules.isSingleLine(text), !text.contains(" ") else {
            cursor.error("\(cursor.describe) is not an image reference", hint: "for example portainer/portainer-ce:2.21.4")
            return nil
        }
        return text
    }
}
