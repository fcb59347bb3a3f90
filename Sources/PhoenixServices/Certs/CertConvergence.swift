import Foundation
import PhoenixCerts
import PhoenixCore
import PhoenixEngine
import X509

/// The certificates of the manifest (`certs` stage, kind `cert`): read where they are installed
/// (one bulk read per machine), issued or renewed only when needed, installed with their owner and
/// mode on the host and in the guest, the hook's reload run, and read back.
public struct CertConvergence: Sendable {
    // A kind on the executor: CertConvergence+Kind.swift.
    public let estate: Estate
    public let machines: Machines
    /// Common names renewed whatever their state (`--force NAME`).
    public var force: Set<String> = []
    /// The common names a status shows (all when empty).
    public var shown: Set<String> = []
    public var now: @Sendable () -> Date = { Date() }
    /// Where the Swarm secrets fed by certificates get their new values (the swarm stage reads it).
    public var feed: CertificateFeed?
    let connection: CAConnection

    public init(estate: Estate, machines: Machines, makeClient: @escaping CAConnection.MakeClient = CAConnection.live) {
        self.estate = estate
        self.machines = machines
        connection = CAConnection(estate: estate, host: machines.host, makeClient: makeClient)
    }

    var settings: StepCASettings { estate.settings.stepCA }

    /// Where one copy of a certificate lives, as read.
    public struct Copy: Sendable {
        public let machine: String
        public let guest: Int?
        public let path: String
        public let role: Role
        public let owner: String
        public let group: String
        public let mode: String
        /// What it holds now: nil when it is not there.
        public var found: FileFacts?
        /// Why it could not be read (the machine failed).
        public var error: String?

        public enum Role: String, Sendable { case certificate, key, ca }

        /// This copy as read again.
        func with(found: FileFacts?) -> Copy {
            var copy = self
            copy.found = found
            copy.error = nil
            return copy
        }

        /// Absent, other contents than `expected`, or another owner or mode.
        func differs(from expected: String) -> [String] {
            if let error { return ["\(machine) \(path): \(error)"] }
            guard let found else { return ["\(machine) \(path) is missing"] }
            var reasons: [String] = []
            if found.contents != expected { reasons.append("\(machine) \(path) holds another \(role.rawValue)") }
            if found.owner != owner || found.group != group || found.mode != mode {
                reasons.append("\(machine) \(path) is \(found.owner):\(found.group) \(found.mode), configured \(owner):\(group) \(mode)")
            }
            return reasons
        }
    }

    public struct Item: Sendable {
        public let request: CertificateRequest
        public var facts: CertificateFacts?
        public var assessment: CertAssessment
        /// Every copy: the host's certificate and key, then the guest's.
        public var copies: [Copy]
        /// Copies to write again without a new certificate (owner, mode, a guest copy that differs).
        public var reinstall: [String]
        /// How the copies differ from the host's certificate and the configured owner and mode,
        /// whatever the certificate's state (what drift reports as changed by hand).
        public var handChanges: [String]
        public let hooks: [CertHook]
        /// Where it is served (checked after a change), or why phoenix cannot tell.
        public let endpoints: [CertEndpoint]
        public let servingProblem: String?
        public var failure: String?
        public var outcome: Outcome = .unchanged
        /// A previous run installed it and stopped before its reload and served check.
        public var resumed = false
        /// What was served and what was expected (filled by the check after a change).
        public var newFingerprint: String?

        public enum Outcome: String, Sendable { case unchanged, issued, renewed, reinstalled, restored }

        public var id: String { request.resourceID }
        public var needsChange: Bool { assessment.action != .none || !reinstall.isEmpty }

        public var lines: [String] {
            var lines: [String] = []
            switch assessment.action {
            case .sign: lines.append("issue (\(assessment.state.rawValue)): \(assessment.reasons.joined(separator: "; "))")
            case .renew: lines.append("renew (\(assessment.state.rawValue)): \(assessment.reasons.joined(separator: "; "))")
            case .none: lines += reinstall.map { "install again: \($0)" }
            }
            if resumed { lines.append("finish what an interrupted run installed: reload and check") }
            if needsChange || resumed {
                if let servingProblem { lines.append("warning: \(servingProblem)") }
                if !request.verify { lines.append("warning: not checked where it is served (verify: false)") }
                for hook in hooks {
                    if case .shell = hook {
                        lines.append("then: warning: runs its hook through sh -c on the host (not a form phoenix knows)")
                    } else {
                        lines.append("then: \(hook.summary)")
                    }
                }
            }
            return lines
        }
    }

    public struct Report: Sendable {
        public var items: [Item] = []
        /// Manifest entries left out for their own errors: failed, their files untouched.
        public var refused: [RefusedCertificate] = []
        public var error: String?
        /// Why nothing could be looked at yet, when that is not a failure: the CA's root is not
        /// exported on the host yet (a new estate, before the CA guest runs), as the trust stage says.
        public var notReady: String?
        /// Step-CA calls by name (`sign`, `renew`, `roots`, `provisioners`).
        public var calls: [String: Int] = [:]

        public var failures: [String: String] {
            var failures: [String: String] = [:]
            for item in items { if let failure = item.failure { failures[item.id] = failure } }
            for entry in refused { failures[entry.resourceID] = entry.reason }
            return failures
        }
    }

    // MARK: Reading

    /// Every certificate as installed, with what the stage would do. Changes nothing.
    public func plan() async -> Report {
        var report: Report
        if let reason = await notReady() {
            report = Report(notReady: reason)
        } else {
            switch await observe() {
            case let .failure(error): report = Report(error: error.message)
            case let .success(items): report = Report(items: items)
            }
        }
        report.refused = estate.refusedCertificates
        return report
    }

    /// Reads the installed files that feed Swarm secrets into `feed` (before a run's kinds start, so
    /// `sync swarm` alone sees the installed certificates too). A file that is not there is left out:
    /// its secret stays "not issued yet".
    public static func prefill(_ feed: CertificateFeed, estate: Estate, host: any Machine) async {
        let feeds = CertSecretFeed.all(in: estate)
        guard !feeds.isEmpty else { return }
        let root = estate.settings.stepCA.rootFile ?? estate.settings.trustSource
        let paths = Set(feeds.values.map { path(of: $0.part, $0.request, root: root) })
        guard let files = try? await host.read(all: paths.sorted()) else { return }
        for (name, fed) in feeds {
            if let text = files[path(of: fed.part, fed.request, root: root)] ?? nil { feed.set(name, Secret(text)) }
        }
    }

    static func path(of part: CertSecretFeed.Part, _ request: CertificateRequest, root: String) -> String {
        switch part {
        case .certificate: return request.certPath
        case .key: return request.keyPath
        case .ca: return root
        }
    }

    /// The root file is not on the host at all: nothing can be checked or issued yet.
    func notReady() async -> String? {
        guard !estate.certificates.isEmpty || !estate.refusedCertificates.isEmpty else { return "the certificate manifest lists no certificates" }
        let path = settings.rootFile ?? estate.settings.trustSource
        guard case .success(.none) = await connection.rootFile() else { return nil }
        return "the Step-CA root \(path) is not on the host yet (the Step-CA guest exports it); no certificate is checked or issued"
    }

    /// The copies' paths by machine: one bulk read each.
    func observe() async -> Result<[Item], CertConfigError> {
        let root: PinnedRoot
        switch await connection.root() {
        case let .failure(error): return .failure(error)
        case let .success(pinned): root = pinned
        }
        var hostPaths: [String] = []
        var guestPaths: [Int: [String]] = [:]
        for request in estate.certificates {
            hostPaths += [request.certPath, request.keyPath]
            if let guest = request.guestID { guestPaths[guest, default: []] += guestTargets(request).map(\.path) }
        }
        let host: [String: FileFacts?]
        do throws(MachineError) {
            host = try await machines.host.inspect(all: hostPaths)
        } catch {
            return .failure(CertConfigError(message: error.description))
        }
        // One bulk read per guest, side by side. (The results are returned from the group, not
        // written into a captured variable: Swift 6.3.1's release build lost those writes.)
        let guests = await withTaskGroup(of: (Int, GuestRead).self) { group -> [Int: GuestRead] in
            for (guest, paths) in guestPaths where !paths.isEmpty {
                let machine = machines.machine(for: .guest(guest))
                group.addTask { (guest, await Self.read(paths, on: machine)) }
            }
            var results: [Int: GuestRead] = [:]
            for await (guest, read) in group { results[guest] = read }
            return results
        }
        let now = now()
        return .success(
            estate.certificates.map { request in
                item(request, host: host, guest: request.guestID.flatMap { guests[$0] }, root: root, now: now)
            })
    }

    /// What one guest's bulk read gave: the files, or why it failed.
    enum GuestRead: Sendable {
        case files([String: FileFacts?])
        case failed(String)
    }

    static func read(_ paths: [String], on machine: any Machine) async -> GuestRead {
        do throws(MachineError) {
            return .files(try await machine.inspect(all: paths))
        } catch {
            return .failed(error.reason)
        }
    }

    func item(
        _ request: CertificateRequest, host: [String: FileFacts?], guest: GuestRead?, root: PinnedRoot, now: Date
    )
        -> Item
    {
        let certFile = host[request.certPath] ?? nil
        let keyFile = host[request.keyPath] ?? nil
        var facts: CertificateFacts?
        var unreadable: String?
        if let certFile {
            do throws(CertificateReader.Failure) {
                facts = try CertificateReader.facts(certificatePEM: certFile.contents, keyPEM: keyFile?.contents, root: root.certificate)
            } catch {
                unreadable = "\(request.certPath) is \(error.description)"
            }
        }
        let window = request.renewBefore ?? settings.renewBefore
        let assessment = CertAssessment.assess(
            request, facts: facts, unreadable: unreadable, window: window, now: now, force: force.contains(request.commonName))
        var copies = [
            Copy(
                machine: machines.host.name, guest: nil, path: request.certPath, role: .certificate, owner: request.owner, group: request.group,
                mode: request.certMode, found: certFile),
            Copy(
                machine: machines.host.name, guest: nil, path: request.keyPath, role: .key, owner: request.owner, group: request.group,
                mode: request.keyMode, found: keyFile),
        ]
        for target in guestTargets(request) {
            var copy = Copy(
                machine: "guest \(request.guestID ?? 0)", guest: request.guestID, path: target.path, role: target.role, owner: request.owner,
                group: request.group, mode: target.mode)
            switch guest {
            case let .files(files)?: copy.found = files[target.path] ?? nil
            case let .failed(reason)?: copy.error = reason
            case nil: copy.error = "not read"
            }
            copies.append(copy)
        }
        var handChanges: [String] = []
        if let certFile, let keyFile {
            for copy in copies {
                let expected = copy.role == .certificate ? certFile.contents : copy.role == .key ? keyFile.contents : root.pem
                handChanges += copy.differs(from: expected)
            }
        }
        let reinstall = assessment.action == .none ? handChanges : []
        let hooks = request.hooks.flatMap(CertHook.parse)
        let serving = CertServing.endpoints(request, estate: estate, hooks: hooks)
        return Item(
            request: request, facts: facts, assessment: assessment, copies: copies, reinstall: reinstall, handChanges: handChanges, hooks: hooks,
            endpoints: serving.endpoints,
            servingProblem: serving.missing)
    }

    /// Where the files go in the guest: the certificate, the key, and the CA with `include_ca`.
    func guestTargets(_ request: CertificateRequest) -> [(path: String, role: Copy.Role, mode: String)] {
        guard request.guestID != nil else { return [] }
        var targets: [(path: String, role: Copy.Role, mode: String)] = []
        if let path = request.guestCertPath { targets.append((path, .certificate, request.certMode)) }
        if let path = request.guestKeyPath { targets.append((path, .key, request.keyMode)) }
        if request.includeCA, let path = request.guestCAPath { targets.append((path, .ca, "0644")) }
        return targets
    }
}
