import Foundation

extension EstateLoader {
    /// `certificate-manifest.json`: an array of certificate entries. An entry with a problem of its
    /// own (a SAN that is no name, a bad owner, …) is left out alone: its errors are tied to its
    /// certificate's resource, which plan and sync report as failed, and the other certificates
    /// (and the rest of the estate) still converge. An entry without a usable common name has no
    /// resource to fail: its errors concern the whole configuration.
    func loadCertificateManifest(_ root: JSONCursor) -> (requests: [CertificateRequest], refused: [RefusedCertificate]) {
        guard let entries = root.expectArray("the certificate manifest") else { return ([], []) }
        var requests: [CertificateRequest] = []
        var refused: [RefusedCertificate] = []
        for entry in entries {
            let own = DiagnosticSink()
            let request = loadCertificate(JSONCursor(file: entry.file, pointer: entry.pointer, value: entry.value, sink: own))
            let errors = own.errors
            // Any error of its own leaves the entry out (a bad verify_at too, though the rest of it read).
            guard !errors.isEmpty, case let .string(text)? = entry.value["common_name"], DNSName(text, allowWildcard: true) != nil else {
                if let request, errors.isEmpty { requests.append(request) }
                own.forward(to: entry.sink, resource: nil)
                continue
            }
            let name = text.lowercased()
            own.forward(to: entry.sink, resource: CertificateRequest.resourceID(name))
            refused.append(
                RefusedCertificate(
                    commonName: name, location: entry.location, problems: errors.map { "\($0.file)#\($0.pointer): \($0.message)" }))
        }
        return (requests, refused)
    }

    private func loadCertificate(_ entry: JSONCursor) -> CertificateRequest? {
        guard entry.expectObject("a certificate entry") else { return nil }
        entry.warnUnknownKeys(
            [
                "common_name", "sans", "guest_id", "guest_type", "cert_path", "key_path", "owner", "permissions", "include_ca",
                "cert_type", "post_renewal_command", "renew_before", "lifetime", "guest_cert_path", "guest_key_path", "guest_ca_path",
                "verify_at", "verify",
            ],
            in: "a certificate entry")
        var valid = true
        var commonName = ""
        if let cursor = entry.childOrReport("common_name", what: "the certificate's subject name"), let text = cursor.stringValue {
            if DNSName(text, allowWildcard: true) != nil {
                commonName = text.lowercased()
            } else {
                cursor.error("\(cursor.describe) is not a valid common name", hint: "use a DNS name such as nginx.internal.example")
                valid = false
            }
        } else {
            valid = false
        }
        var dnsNames: [DNSName] = []
        var ipAddresses: [IPAddress] = []
        if let sans = entry.child("sans")?.expectArray("sans") {
            for san in sans {
                guard let text = san.stringValue else {
                    valid = false
                    continue
                }
                // IPv4 and IPv6 in one list, each once however it is written ("0:0::1" is "::1").
                if let address = IPAddress(text) {
                    if !ipAddresses.contains(address) { ipAddresses.append(address) }
                } else if let name = DNSName(text, allowWildcard: true) {
                    if !dnsNames.contains(name) { dnsNames.append(name) }
                } else {
                    san.error(
                        "\(san.describe) is neither a DNS name nor an IP address",
                        hint:
                            "write a DNS name (app.example, *.app.example), an IPv4 address (10.0.0.5) or an IPv6 address (fd00::5), without brackets or a zone"
                    )
                    valid = false
                }
            }
        }
        if dnsNames.isEmpty && ipAddresses.isEmpty, let name = DNSName(commonName, allowWildcard: true) {
            dnsNames = [name]  // step uses the common name as the only SAN when none is given
        }
        var guestID: Int?
        if let cursor = entry.child("guest_id") { guestID = cursor.idValue }
        var guestKind: GuestKind?
        if let cursor = entry.child("guest_type"), let text = cursor.stringValue {
            guestKind = GuestKind(rawValue: text)
            if guestKind == nil {
                cursor.error("\(cursor.describe) is not a guest type", hint: "use lxc or vm")
                valid = false
            }
        }
        let certPath = entry.childOrReport("cert_path", what: "where the certificate is written on the host").flatMap(absolutePath)
        let keyPath = entry.childOrReport("key_path", what: "where the private key is written on the host").flatMap(absolutePath)
        if certPath == nil || keyPath == nil { valid = false }

        var owner = "root"
        var group = "root"
        if let cursor = entry.child("owner"), let text = cursor.stringValue {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if (1...2).contains(parts.count), parts.allSatisfy(TextRules.isAccountName) {
                owner = parts[0]
                group = parts.count == 2 ? parts[1] : parts[0]
            } else {
                cursor.error("\(cursor.describe) is not an owner", hint: "write user:group, e.g. root:www-data")
                valid = false
            }
        }
        var keyMode = "0600"
        if let cursor = entry.child("permissions"), let text = cursor.stringValue {
            if (3...4).contains(text.count), text.allSatisfy({ ("0"..."7").contains($0) }) {
                keyMode = text.count == 3 ? "0" + text : text
                if keyMode.last != "0" {
                    cursor.warning("permissions \(text) make the private key readable by every user", hint: "use 600 or 640")
                }
            } else {
                cursor.error("\(cursor.describe) is not an octal mode", hint: "write it like \"640\"")
                valid = false
            }
        }
        var certType = "server"
        if let cursor = entry.child("cert_type"), let text = cursor.stringValue {
            if ["server", "client"].contains(text) {
                certType = text
            } else {
                cursor.error("\(cursor.describe) is not a certificate type", hint: "use server or client")
                valid = false
            }
        }
        var hooks: [String] = []
        if let cursor = entry.child("post_renewal_command"), let text = cursor.stringValue {
            if text.contains("\0") {
                cursor.error("the post-renewal command contains a NUL character")
                valid = false
            } else if !text.isEmpty {
                hooks.append(text)
            }
        }
        guard valid, let certPath, let keyPath else { return nil }
        var request = CertificateRequest(
            commonName: commonName, dnsNames: dnsNames, ipAddresses: ipAddresses, guestID: guestID, guestKind: guestKind,
            certPath: certPath, keyPath: keyPath, owner: owner, group: group, certMode: "0644", keyMode: keyMode,
            includeCA: entry.bool("include_ca") ?? false, certType: certType, hooks: hooks, location: entry.location)
        request.renewBefore = renewalWindow(entry.child("renew_before"))
        request.lifetime = lifetime(entry.child("lifetime"))
        // The original's hooks move the staged /tmp files into place: those targets are where the
        // files belong in the guest, unless the entry names them.
        let moved = hooks.first.map(Self.movedTargets) ?? [:]
        request.guestCertPath = absolutePath(entry.child("guest_cert_path")) ?? moved["/tmp/cert.pem"]
        request.guestKeyPath = absolutePath(entry.child("guest_key_path")) ?? moved["/tmp/key.pem"]
        request.guestCAPath = absolutePath(entry.child("guest_ca_path")) ?? moved["/tmp/ca.pem"]
        for cursor in entry.child("verify_at")?.expectArray("verify_at") ?? [] {
            guard let text = cursor.stringValue else { continue }
            if CertServing.endpoint(text, serverName: nil, what: "") != nil {
                request.verifyAt.append(text)
            } else {
                cursor.error("\(cursor.describe) is not host:port", hint: "e.g. 10.0.0.10:443")
            }
        }
        if let verify = entry.bool("verify") {
            request.verify = verify
            if !verify { entry.warning("the certificate is not checked where it is served (verify: false)") }
        }
        if request.guestID != nil, request.guestCertPath == nil {
            entry.warning(
                "the certificate is not installed in guest \(guestID.map(String.init) ?? "")",
                hint: "name guest_cert_path and guest_key_path; the host copy at cert_path is still kept")
        }
        return request
    }

    /// `mv /tmp/cert.pem /etc/nginx/ssl/x.crt` (or `cp`) in a hook's script: source → target, for sources in /tmp.
    static func movedTargets(_ hook: String) -> [String: String] {
        var targets: [String: String] = [:]
        let words = hook.split(whereSeparator: { " \t'\"".contains($0) }).map(String.init)
        for index in words.indices where ["mv", "cp"].contains(words[index]) && index + 2 < words.count {
            let source = words[index + 1]
            let target = words[index + 2].trimmingCharacters(in: CharacterSet(charactersIn: ";&|)"))
            if source.hasPrefix("/tmp/"), target.hasPrefix("/"), !target.contains("*") { targets[source] = target }
        }
        return targets
    }
}
