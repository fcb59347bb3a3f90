import Foundation
import PhoenixCerts
import PhoenixCore
import PhoenixEngine

extension CertConvergence {
    struct StepFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// The certificate chain and key to install: a fresh sign, a renewal, or what is there.
    public struct Material: Sendable {
        let chainPEM: String
        let keyPEM: String
        let caPEM: String
        public let fingerprint: String
    }

    func material(for item: Item) async throws -> Material {
        let root: PinnedRoot
        switch await connection.root() {
        case let .failure(error): throw error.refusal(of: "its root certificate")
        case let .success(pinned): root = pinned
        }
        let current = (chain: item.copies[0].found?.contents, key: item.copies[1].found?.contents)
        var chain: String
        var key: String
        switch item.assessment.action {
        case .none:
            guard let existing = current.chain, let existingKey = current.key else { throw ResourceFailure.cannotCheck(reason: "nothing installed to copy") }
            chain = existing
            key = existingKey
        case .renew:
            guard let existing = current.chain, let existingKey = current.key else { throw ResourceFailure.cannotCheck(reason: "nothing installed to renew") }
            // A renewal authenticates with the current certificate: no provisioner key needed.
            let client: any CertificateAuthority
            switch await connection.client() {
            case let .failure(error): throw error.refusal(of: "connect")
            case let .success(connected): client = connected
            }
            do throws(StepCAError) {
                chain = try await client.renew(chainPEM: existing, keyPEM: existingKey).chainPEM
            } catch {
                throw ResourceFailure.refused(system: "Step-CA", call: "renew", message: error.description)
            }
            key = existingKey
        case .sign:
            let (client, provisioner) = try await open()
            let request = item.request
            let dns = request.dnsNames.map(\.text)
            let csr: SigningRequest
            do { csr = try SigningRequest(commonName: request.commonName, dnsNames: dns, ipAddresses: request.ipAddresses) } catch {
                throw ResourceFailure.bug("cannot make the signing request for \(request.commonName): \(error)")
            }
            // The token's sans are the CSR's, IPs in their canonical text (step-ca parses both families).
            let token = provisioner.token(
                subject: request.commonName, sans: dns + request.ipAddresses.map(\.description), audience: client.url + "/1.0/sign",
                rootFingerprint: root.fingerprint, now: now())
            do throws(StepCAError) {
                chain = try await client.sign(csrPEM: csr.csrPEM, token: token, lifetime: request.lifetime ?? settings.lifetime).chainPEM
            } catch {
                throw ResourceFailure.refused(system: "Step-CA", call: "sign", message: error.description)
            }
            key = csr.keyPEM
        }
        let fingerprint: String
        do { fingerprint = CertificateReader.fingerprint(try CertificateReader.certificates(chain)[0]) } catch {
            throw ResourceFailure.refused(system: "Step-CA", call: "sign", message: "its answer is not a certificate chain phoenix can read: \(error)")
        }
        return Material(chainPEM: chain, keyPEM: key, caPEM: root.pem, fingerprint: fingerprint)
    }

    func open() async throws -> (any CertificateAuthority, ProvisionerKey) {
        switch await connection.open() {
        case let .failure(error): throw error.refusal(of: "the provisioner")
        case let .success(opened): return (opened.client, opened.key)
        }
    }

    /// Writes every copy that is not already as wanted: keys first, each staged 0600 next to its
    /// place, given its owner and mode, then renamed over the old one.
    func install(_ material: Material, item: Item) async throws {
        for copy in item.copies.sorted(by: { ($0.role == .key ? 0 : 1) < ($1.role == .key ? 0 : 1) }) {
            let contents = contents(of: copy.role, material)
            if let found = copy.found, copy.error == nil, found.contents == contents, found.owner == copy.owner, found.group == copy.group,
                found.mode == copy.mode
            {
                continue
            }
            try await place(contents, copy: copy)
        }
    }

    func contents(of role: Copy.Role, _ material: Material) -> String {
        switch role {
        case .certificate: return material.chainPEM
        case .key: return material.keyPEM
        case .ca: return material.caPEM
        }
    }

    func machine(of copy: Copy) -> any Machine { copy.guest.map { machines.machine(for: .guest($0)) } ?? machines.host }

    func place(_ contents: String, copy: Copy) async throws {
        try await place(contents, at: copy.path, on: machine(of: copy), owner: copy.owner, group: copy.group, mode: copy.mode)
    }

    /// Staged 0600 next to its place, given its owner and mode, then renamed over the old file.
    func place(_ contents: String, at path: String, on machine: any Machine, owner: String, group: String, mode: String) async throws {
        let staged = path + ".phoenix-new"
        do {
            try await machine.write(staged, contents, mode: "0600")
            try await machine.setOwnership(staged, owner: owner, group: group, mode: mode)
            try await machine.rename(staged, to: path)
        } catch {
            // A staged copy (maybe a key, already given its owner) never stays behind.
            try? await machine.remove(staged)
            throw error
        }
    }

    /// The file resources of this run on the machines the item's hooks reload services on.
    func serviceFiles(of item: Item, in graph: ResourceGraph) -> [String] {
        var targets = Set<RenderedFile.Target>()
        for hook in item.hooks {
            if case let .service(_, _, guest) = hook { targets.insert(guest.map(RenderedFile.Target.guest) ?? .host) }
        }
        return graph.nodes.filter { $0.kind == FileKind().name && targets.contains($0.target) }.map(\.id)
    }

    /// Runs one hook step; its exit status counts.
    func run(_ hook: CertHook, for item: Item) async throws {
        let argv: [String]
        let machine: any Machine
        switch hook {
        case .swarmSecrets:
            return
        case let .service(verb, unit, guest):
            machine = guest.map { machines.machine(for: .guest($0)) } ?? machines.host
            let commands = ServiceCommands.serviceNames.contains(unit) ? estate.settings.commands(for: unit) : nil
            argv = (verb == "restart" ? commands?.restart : commands?.reload) ?? ["systemctl", verb, unit]
        case let .shell(text):
            machine = machines.host
            argv = ["sh", "-c", text]
        }
        let result = try await machine.run(argv, timeout: settings.hookTimeout)
        guard result.status == 0 else {
            throw ResourceFailure.refused(
                system: machine.name, call: hook.summary, message: "hook \(hook.summary) failed on \(machine.name) (exit \(result.status)): \(result.excerpt)")
        }
    }

    /// The Swarm secrets this certificate feeds take the new files' contents.
    func feedSecrets(_ material: Material, item: Item) {
        guard let feed else { return }
        for hook in item.hooks {
            guard case let .swarmSecrets(list) = hook else { continue }
            for entry in list {
                let value: String
                switch entry.part {
                case .certificate: value = material.chainPEM
                case .key: value = material.keyPEM
                case .ca: value = material.caPEM
                }
                feed.set(entry.secret, Secret(value))
            }
        }
    }

    /// Every endpoint that presents the certificate serves the new leaf (polled: a reload takes a
    /// moment); else the failure says what is served instead.
    func checkServed(_ material: Material, item: Item) async throws {
        for endpoint in item.endpoints {
            if let problem = await servedProblem(endpoint, expected: material.fingerprint) {
                throw ResourceFailure.verificationFailed(check: "served at \(endpoint)", seen: problem)
            }
        }
    }

    /// nil once `endpoint` serves `expected`; else what it serves (or why it cannot be read) when
    /// the time is up. (A loop without a thrown error of its own: see SwarmConvergence.readiness.)
    func servedProblem(_ endpoint: CertEndpoint, expected: String) async -> String? {
        let deadline = Date().addingTimeInterval(settings.timeout)
        var last = "\(endpoint) was not read"
        while Date() < deadline {
            switch await ServedFingerprint.read(endpoint, timeout: min(5, settings.timeout)) {
            case let .success(served):
                if served == expected { return nil }
                last = "\(endpoint) serves \(served), not the new \(expected)"
            case let .failure(error):
                last = error.message
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
        return last
    }

    /// Reads the host copies back: the new certificate, its key, the owner and mode asked for.
    func verify(_ material: Material, item: Item) async throws {
        let paths = [item.request.certPath, item.request.keyPath]
        let files = try await machines.host.inspect(all: paths)
        guard let cert = files[paths[0]] ?? nil, let key = files[paths[1]] ?? nil else {
            throw ResourceFailure.verificationFailed(check: "read back", seen: "\(paths[0]) or \(paths[1]) is missing after the install")
        }
        let facts: CertificateFacts
        do { facts = try CertificateReader.facts(certificatePEM: cert.contents, keyPEM: key.contents, root: nil) } catch {
            throw ResourceFailure.verificationFailed(check: "read back", seen: "\(paths[0]) is not a readable certificate after the install: \(error)")
        }
        guard facts.fingerprint == material.fingerprint, facts.keyMatches == true else {
            throw ResourceFailure.verificationFailed(check: "read back", seen: "\(paths[0]) does not hold the new certificate and its key after the install")
        }
        for (file, copy) in [(cert, item.copies[0]), (key, item.copies[1])] where (file.owner, file.group, file.mode) != (copy.owner, copy.group, copy.mode) {
            throw ResourceFailure.verificationFailed(
                check: "read back",
                seen: "\(copy.path) is \(file.owner):\(file.group) \(file.mode) after the install, not \(copy.owner):\(copy.group) \(copy.mode)")
        }
        // The guest's copies too, in one bulk read: what was written, with its owner and mode.
        let guestCopies = item.copies.filter { $0.guest != nil }
        guard let first = guestCopies.first else { return }
        let read = try await machine(of: first).inspect(all: guestCopies.map(\.path))
        for copy in guestCopies {
            if let problem = copy.with(found: read[copy.path] ?? nil).differs(from: contents(of: copy.role, material)).first {
                throw ResourceFailure.verificationFailed(check: "read back", seen: "after the install: \(problem)")
            }
        }
    }

    /// Puts every copy back as it was read (or removes it when there was none) and, when the hooks
    /// had run on the new files, runs them again so the services load the old ones; returns what to
    /// add to the failure.
    func restore(_ item: Item, hooksRan: Bool) async -> RestoreOutcome {
        var problems: [String] = []
        for copy in item.copies where copy.error == nil {
            do {
                if let found = copy.found {
                    try await place(found.contents, at: copy.path, on: machine(of: copy), owner: found.owner, group: found.group, mode: found.mode)
                } else {
                    try await machine(of: copy).remove(copy.path)
                }
            } catch {
                problems.append("\(error)")
            }
        }
        guard problems.isEmpty else { return .failed(attempt: "restoring the previous certificate", reason: problems.joined(separator: "; ")) }
        let readable = item.copies.filter { $0.error == nil }
        var restored: String
        if readable.allSatisfy({ $0.found != nil }) {
            restored = "the previous certificate and key are back"
        } else if readable.allSatisfy({ $0.found == nil }) {
            restored = "the new files were removed"
        } else {
            restored = "the previous files are back and the ones that did not exist were removed"
        }
        // A copy that could not be read before the change cannot be put back: said, not hidden.
        let unknown = item.copies.filter { $0.error != nil }.map { "\($0.machine) \($0.path)" }
        if !unknown.isEmpty { restored += " (\(unknown.joined(separator: ", ")) could not be read before and keep the new files)" }
        guard hooksRan else { return .restored(restored) }
        var hookProblems: [String] = []
        for hook in item.hooks {
            do { try await run(hook, for: item) } catch { hookProblems.append("\(error)") }
        }
        return .restored(restored + (hookProblems.isEmpty ? "" : " (its hook failed on them too: \(hookProblems.joined(separator: "; ")))"))
    }
}
