/// Cross-checks between files, run after every file loaded on its own.
struct EstateValidator: Sendable {
    let estate: Estate
    let sink: DiagnosticSink

    func run() {
        checkReferencedGuests()
        checkAddresses()
        checkServices()
        // The larger checks are independent of each other: they run side by side.
        let estate = estate, sink = sink
        let tasks: [@Sendable () -> GuestGraph?] =
            [
                {
                    _ = DNSView(estate: estate, sink: sink); return nil
                },
                {
                    _ = ServiceCatalogue(estate: estate, sink: sink); return nil
                },
            ] + GraphVerb.allCases.map { verb in { @Sendable in GuestGraph(estate: estate, verb: verb) } }
        checkCycles(Concurrent.map(tasks.count) { tasks[$0]() }.compactMap { $0 })
        checkStacks()
        checkCertificates()
        checkSwarm()
    }

    private func checkReferencedGuests() {
        let file = estate.hypervisorFile
        if let id = estate.settings.ingressGuest, estate.guest(id) == nil {
            sink.error(
                file, JSONPointer(["phoenix", "ingress_guest"]), "ingress guest \(id) is not defined", hint: "name the id of the guest that runs Traefik")
        }
        if let id = estate.settings.gatewayGuest, estate.guest(id) == nil {
            sink.error(file, JSONPointer(["phoenix", "gateway_guest"]), "gateway guest \(id) is not defined", hint: "name the id of the guest that runs NGINX")
        }
        if estate.dns.enabled && estate.dns.listenAddresses.isEmpty {
            sink.error(
                file, JSONPointer(["dns_server"]), "the DNS server is enabled but listens nowhere",
                hint: "set dns_server.listen_addresses or network.interfaces.address")
        }
        for guest in estate.guests {
            if guest.kind == .lxc && guest.cloneFrom == nil && guest.hardware.templateFile == nil {
                sink.warning(
                    guest.source.file, guest.source.pointer,
                    "container \(guest.id) names neither clone_from_ctid nor template: phoenix create cannot make it (converge and sync still manage it once it exists)",
                    hint:
                        "set clone_from_ctid to a template container, or template to an OS template such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
                )
            }
            if let source = guest.cloneFrom {
                let pointer = guest.source.pointer / (guest.kind == .lxc ? "clone_from_ctid" : "clone_from_vmid")
                if let template = estate.guest(source) {
                    if template.kind != guest.kind {
                        sink.error(
                            guest.source.file, pointer, "guest \(guest.id) is cloned from \(source), which is a \(template.kind == .lxc ? "container" : "VM")",
                            hint: "a container clones a container, a VM clones a VM")
                    }
                } else {
                    sink.error(guest.source.file, pointer, "clone source \(source) is not defined")
                }
            }
            for dependency in guest.dependencies where !dependency.optional {
                let location = dependency.location
                if dependency.target == guest.id {
                    sink.error(location.file, location.pointer, "guest \(guest.id) depends on itself")
                } else if let target = estate.guest(dependency.target) {
                    if !target.enabled && guest.enabled {
                        sink.error(
                            location.file, location.pointer, "guest \(guest.id) depends on \(target.id), which is disabled",
                            hint: "enable \(target.id) or make the dependency optional")
                    }
                } else {
                    sink.error(
                        location.file, location.pointer, "dependency \(dependency.target) is not defined",
                        hint: "define guest \(dependency.target), or write {\"id\": \"\(dependency.target)\", \"optional\": true}")
                }
            }
            for dependency in guest.dependencies {
                if let setting = dependency.condition?.setting, estate.hypervisorDocument.resolve(setting) == nil {
                    sink.warning(
                        dependency.location.file, dependency.location.pointer / "when" / "setting",
                        "setting \(setting) is not present in \(estate.hypervisorFile): the edge is inactive")
                }
            }
        }
    }

    /// Two running guests may not share a static address.
    private func checkAddresses() {
        var owners: [IPv4Address: Guest] = [:]
        for guest in estate.guests where guest.enabled && !guest.isTemplate {
            for (address, key) in [
                (guest.primaryAddress?.staticAddress, "network_config"), (guest.secondaryAddress?.staticAddress, "secondary_network_config"),
            ] {
                guard let address else { continue }
                if let owner = owners[address], owner.id != guest.id {
                    sink.error(
                        guest.source.file, guest.source.pointer / key / "ip",
                        "address \(address) of guest \(guest.id) (\(guest.name)) is already used by guest \(owner.id) (\(owner.name))",
                        hint: "give each guest its own address")
                } else {
                    owners[address] = guest
                }
            }
        }
    }

    private func checkServices() {
        let ingress = Ingress(estate: estate)
        var hasServiceNames = false
        for guest in estate.guests where guest.enabled && !guest.isTemplate {
            guard let service = guest.traefikService else { continue }
            hasServiceNames = true
            if guest.staticAddress == nil {
                sink.error(
                    service.location.file, service.location.pointer,
                    "guest \(guest.id) (\(guest.name)) declares traefik_service \"\(service.name)\" but has no static address",
                    hint: "give network_config.ip a static address, or add a secondary_network_config with one")
            }
        }
        hasServiceNames = hasServiceNames || estate.stacks.contains { !$0.environments.allSatisfy { $0.routedHosts.isEmpty } }
        if hasServiceNames {
            if ingress.guest == nil {
                sink.warning(
                    estate.hypervisorFile, .root,
                    "no ingress guest: service names get no DNS record and no route",
                    hint: "name a guest Traefik-Internal or set phoenix.ingress_guest")
            } else if let guest = ingress.guest, guest.staticAddress == nil {
                sink.error(
                    guest.source.file, guest.source.pointer, "the ingress guest \(guest.id) has no static address",
                    hint: "service names resolve to the ingress: give it a static address")
            }
        }
    }

    private func checkCycles(_ graphs: [GuestGraph]) {
        var reported = Set<Set<Int>>()
        for graph in graphs {
            let verb = graph.verb
            for cycle in graph.cycles where reported.insert(Set(cycle)).inserted {
                let first = estate.guest(cycle[0])!
                let kinds = Set(graph.edges.filter { cycle.contains($0.from) && cycle.contains($0.to) && $0.active }.map(\.kind.rawValue))
                sink.error(
                    first.source.file, first.source.pointer,
                    "dependency cycle: \(cycle.map(String.init).joined(separator: " → ")) (\(kinds.sorted().joined(separator: " and ")) edges, verb \(verb.rawValue))",
                    hint: "remove one of the edges, or make it optional or conditional")
            }
        }
    }

    private func checkStacks() {
        let byName = Dictionary(estate.stacks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let environment = estate.settings.stackEnvironment
        for guest in estate.guests where guest.kind == .vm {
            for listed in guest.dockerStacks {
                let location = listed.location
                guard let stack = byName[listed.value] else {
                    sink.error(
                        location.file, location.pointer, "VM \(guest.id) lists stack \(listed.value), which is not defined",
                        hint: "add stacks/\(listed.value)/docker-compose.yml")
                    continue
                }
                if stack.compose == nil {
                    sink.error(
                        location.file, location.pointer, "VM \(guest.id) lists stack \(listed.value), which has no compose file",
                        hint: "add stacks/\(listed.value)/docker-compose.yml")
                }
                if !stack.environments.isEmpty && stack.environment(environment) == nil {
                    sink.error(
                        location.file, location.pointer,
                        "VM \(guest.id) lists stack \(listed.value), which has no environment \"\(environment)\"",
                        hint: "define environments.\(environment) for the stack, or set phoenix.stack_environment")
                }
            }
        }
    }

    private func checkCertificates() {
        var seen: [String: SourceLocation] = [:]
        let stepCA = estate.settings.stepCA
        for request in estate.certificates {
            let name = request.commonName.lowercased()
            if let first = seen[name] {
                sink.error(
                    request.location.file, request.location.pointer / "common_name",
                    "certificate \(request.commonName) is listed twice (first at \(first.pointer)): its resource cert:\(request.commonName) would be two",
                    hint: "one entry per certificate")
            } else {
                seen[name] = request.location
            }
            let lifetime = request.lifetime ?? stepCA.lifetime
            if case let .duration(window) = request.renewBefore ?? stepCA.renewBefore, window >= lifetime {
                sink.warning(
                    request.location.file, request.location.pointer / "renew_before",
                    "certificate \(request.commonName) is renewed on every run: its window \(Durations.text(window)) is not shorter than its lifetime \(Durations.text(lifetime))"
                )
            }
            guard let id = request.guestID else { continue }
            if (request.guestCertPath == nil) != (request.guestKeyPath == nil) {
                sink.error(
                    request.location.file, request.location.pointer,
                    "certificate \(request.commonName) names only one of its guest paths: a new key beside an old certificate breaks TLS",
                    hint: "name both guest_cert_path and guest_key_path (or neither)")
            }
            if request.includeCA, request.guestCertPath != nil, request.guestCAPath == nil {
                sink.warning(
                    request.location.file, request.location.pointer / "include_ca",
                    "certificate \(request.commonName) asks for the CA in guest \(id) but names no guest_ca_path: the CA is not installed there")
            }
            let pointer = request.location.pointer / "guest_id"
            guard let guest = estate.guest(id) else {
                sink.error(request.location.file, pointer, "certificate \(request.commonName) is for guest \(id), which is not defined")
                continue
            }
            if let kind = request.guestKind, kind != guest.kind {
                sink.error(
                    request.location.file, request.location.pointer / "guest_type",
                    "certificate \(request.commonName) says guest \(id) is a \(kind.rawValue), but it is a \(guest.kind.rawValue)")
            }
        }
        // An entry left out for its own errors still names its resource: a second one is ambiguous.
        for refused in estate.refusedCertificates {
            if let first = seen[refused.commonName] {
                sink.error(
                    refused.location.file, refused.location.pointer / "common_name",
                    "certificate \(refused.commonName) is listed twice (first at \(first.pointer)): its resource cert:\(refused.commonName) would be two",
                    hint: "one entry per certificate")
            } else {
                seen[refused.commonName] = refused.location
            }
        }
    }

    private func checkSwarm() {
        let managers = estate.guests.filter { $0.swarmRole == "manager" && $0.enabled }
        if managers.count > 1 {
            for manager in managers.dropFirst() {
                sink.error(
                    manager.source.file, manager.source.pointer / "swarm_role",
                    "more than one VM has swarm_role manager (\(managers.map { String($0.id) }.joined(separator: ", ")))",
                    hint: "Phoenix drives the Swarm through one manager; make the others workers")
            }
        }
        let members = estate.guests.filter { $0.swarmRole != nil && $0.enabled }
        if managers.isEmpty, let first = members.first {
            sink.error(
                first.source.file, first.source.pointer / "swarm_role",
                "VM \(first.id) is a Swarm worker, but no VM has swarm_role manager", hint: "give exactly one VM swarm_role manager")
        }
        if !members.isEmpty || estate.guests.contains(where: { !$0.dockerStacks.isEmpty }) {
            for guest in members where guest.kind != .vm {
                sink.error(guest.source.file, guest.source.pointer / "swarm_role", "swarm_role is for VMs; guest \(guest.id) is a container")
            }
            for guest in members where estate.settings.docker.endpoints[guest.id] == nil && guest.staticAddress == nil {
                sink.error(
                    guest.source.file, guest.source.pointer / "network_config" / "ip",
                    "VM \(guest.id) is in the Swarm but has no static address to reach its Docker daemon at",
                    hint: "give it a static network_config.ip, or name its daemon in phoenix.docker.endpoints")
            }
        }
        if managers.isEmpty, let lister = estate.guests.first(where: { !$0.dockerStacks.isEmpty && $0.enabled }) {
            // The original's older layout lists stacks without a Swarm role: valid, but not deployable.
            sink.warning(
                lister.source.file, lister.source.pointer / "docker_stacks",
                "VM \(lister.id) lists stacks, but no VM has swarm_role manager: the stacks stage has nowhere to deploy them",
                hint: "give exactly one VM swarm_role manager")
        }
    }
}
