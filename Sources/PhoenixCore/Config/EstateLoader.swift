/// Loads every file of a Phoenix Hypervisor configuration into an ``Estate``, reporting every
/// problem at once. Both generations of the original's files are accepted.
public struct EstateLoader: Sendable {
    /// The result of a load: the estate (absent only when a required file could not be parsed at all)
    /// and every diagnostic.
    public struct Result: Sendable {
        public let estate: Estate?
        public let report: ValidationReport
    }

    /// The stage names the configuration may use (`phoenix.agent.approve`, `self_heal`): those of
    /// the registered kinds (PhoenixServices' `KindRegistry.stages`), the original's by default.
    public var stages: [SyncStage]

    public init(stages: [SyncStage] = SyncStage.original) { self.stages = stages }

    /// Loads every file and cross-checks them.
    public func load(_ sources: ConfigSources) -> Result {
        let sink = DiagnosticSink()
        for (name, reason) in sources.unreadable {
            sink.error(name, .root, "cannot read the file: \(reason)")
        }
        let unreadable = Set(sources.unreadable.map(\.name))
        guard !unreadable.contains(sources.hypervisor.name) else { return Result(estate: nil, report: sink.report()) }
        // Every file is parsed at once, on every core; a syntax error in one never hides another's.
        let files = [sources.hypervisor, sources.lxc, sources.vm, sources.stacksConfig, sources.certificateManifest]
        let roots = Concurrent.map(files.count) { index in files[index].flatMap { parse($0, sink: sink) } }
        guard let hypervisorRoot = roots[0] else { return Result(estate: nil, report: sink.report()) }
        let (lxcRoot, vmRoot, stacksRoot, manifestRoot) = (roots[1], roots[2], roots[3], roots[4])

        let hypervisor = loadHypervisor(hypervisorRoot)
        var guests: [Guest] = []
        if sources.lxc != nil {
            if let root = lxcRoot { guests += loadContainers(root, domain: hypervisor.domain) }
        } else {
            sink.error(
                ConfigSources.FileName.lxc, .root, "the LXC configuration file is missing",
                hint: "create it with {\"lxc_configs\": {}} when there are no containers")
        }
        if sources.vm != nil {
            if let root = vmRoot { guests += loadVirtualMachines(root, domain: hypervisor.domain) }
        } else {
            sink.error(ConfigSources.FileName.vm, .root, "the VM configuration file is missing", hint: "create it with {\"vms\": []} when there are no VMs")
        }
        guests = deduplicate(guests, sink: sink)

        var stacks: [Stack] = []
        var stackConfigNames = Set<String>()
        if let root = stacksRoot {
            stacks = loadStacksConfig(root)
            stackConfigNames = Set(stacks.map(\.name))
        }
        stacks = mergeStackDirectories(sources.stackDirectories, into: stacks, configNames: stackConfigNames, sink: sink)

        var certificates: [CertificateRequest] = []
        var refusedCertificates: [RefusedCertificate] = []
        if let root = manifestRoot {
            (certificates, refusedCertificates) = loadCertificateManifest(root)
        }

        let estate = Estate(
            domain: hypervisor.domain,
            hostAddress: hypervisor.hostAddress,
            internalBridge: hypervisor.internalBridge,
            guests: guests,
            firewall: hypervisor.firewall,
            dns: hypervisor.dns,
            stacks: stacks.sorted { $0.name < $1.name },
            certificates: certificates,
            refusedCertificates: refusedCertificates,
            settings: hypervisor.settings,
            portainerAdminPassword: hypervisor.portainerAdminPassword,
            hypervisorDocument: Self.redacted(hypervisorRoot.value),
            hypervisorFile: sources.hypervisor.name
        )
        EstateValidator(estate: estate, sink: sink).run()
        return Result(estate: estate, report: sink.report())
    }

    /// Keys whose values are secrets. Their values are replaced before the document is kept in the estate.
    static let secretKeys: Set<String> = ["admin_password", "password", "password_hash", "api_key", "token", "secret"]

    static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case let .object(members):
            return .object(
                members.map { member in
                    (member.key, secretKeys.contains(member.key.lowercased()) && member.value != .null ? .string("<redacted>") : redacted(member.value))
                })
        case let .array(items):
            return .array(items.map(redacted))
        default:
            return value
        }
    }

    /// Parses one file; a syntax error is reported with line and column and the file is skipped.
    func parse(_ file: ConfigSources.File, sink: DiagnosticSink) -> JSONCursor? {
        do {
            let (value, duplicates) = try JSONParser.parse(file.bytes)
            for pointer in duplicates {
                sink.warning(file.name, pointer, "duplicate key: the last occurrence wins", hint: "remove one of the two members")
            }
            return JSONCursor(file: file.name, pointer: .root, value: value, sink: sink)
        } catch {
            sink.error(
                file.name, .root, "invalid JSON at line \(error.line), column \(error.column): \(error.message)",
                hint: "fix the syntax; nothing from this file was loaded"
            )
            return nil
        }
    }

    /// LXC and VM ids share one id space; a repeated id is an error and the later guest is dropped.
    private func deduplicate(_ guests: [Guest], sink: DiagnosticSink) -> [Guest] {
        var byID: [Int: Guest] = [:]
        for guest in guests {
            if let first = byID[guest.id] {
                let both = first.kind == guest.kind ? "two \(guest.kind == .lxc ? "containers" : "VMs")" : "an LXC and a VM"
                // A VM's id is its `vmid` field; a container's is the key of its entry.
                sink.error(
                    guest.source.file, guest.kind == .vm ? guest.source.pointer / "vmid" : guest.source.pointer,
                    "guest id \(guest.id) is used by \(both): \"\(first.name)\" (\(first.source.file) \(first.source.pointer)) and \"\(guest.name)\"",
                    hint: "LXC and VM ids share one id space in Proxmox; give one of them another id"
                )
                continue
            }
            byID[guest.id] = guest
        }
        return byID.values.sorted { $0.id < $1.id }
    }
}
