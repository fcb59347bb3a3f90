/// Renders the dnsmasq view: a settings file (changes need a restart) and a records file read as
/// `addn-hosts` (changes need only a SIGHUP, so record updates never interrupt DNS).
struct DNSRenderer {
    let estate: Estate

    func render(into output: inout RenderOutput) {
        let dns = estate.dns
        guard dns.enabled else {
            output.notes.append("dns: dns_server.enabled is not true, nothing to render")
            return
        }
        var settings = "# \(generatedHeader)\n"
        settings += "port=\(dns.port)\n"
        settings += "listen-address=\(dns.listenAddresses.map(String.init(describing:)).joined(separator: ","))\n"
        settings += "bind-dynamic\n"
        settings += "no-resolv\n"
        settings += "domain-needed\n"
        settings += "bogus-priv\n"
        settings += "strict-order\n"
        settings += "stop-dns-rebind\n"
        settings += "rebind-localhost-ok\n"
        settings += "local=/\(estate.domain)/\n"
        settings += "addn-hosts=\(dns.recordsFile)\n"
        for server in dns.upstreamServers { settings += "server=\(server)\n" }
        output.files.append(RenderedFile(target: .host, path: dns.configFile, contents: settings))

        let view = DNSView(estate: estate)
        var records = "# \(generatedHeader)\n# \(view.records.count) records for \(estate.domain)\n"
        for record in view.records { records += "\(record.address) \(record.name)\n" }
        output.files.append(RenderedFile(target: .host, path: dns.recordsFile, contents: records))
    }
}
