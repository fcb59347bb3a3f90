/// Renders the certificate requests as JSON: what the certs stage will ask Step-CA for. No issuance.
struct CertificateRenderer {
    let estate: Estate

    func render(into output: inout RenderOutput) {
        let requests: [JSONValue] = estate.certificates.map { request in
            var members: [(key: String, value: JSONValue)] = [
                ("common_name", .string(request.commonName)),
                ("dns_sans", .array(request.dnsNames.map { .string($0.text) })),
                ("ip_sans", .array(request.ipAddresses.map { .string($0.description) })),
                ("cert_path", .string(request.certPath)), ("key_path", .string(request.keyPath)),
                ("owner", .string(request.owner)), ("group", .string(request.group)),
                ("cert_mode", .string(request.certMode)), ("key_mode", .string(request.keyMode)),
                ("cert_type", .string(request.certType)), ("include_ca", .bool(request.includeCA)),
                ("hooks", .array(request.hooks.map(JSONValue.string))),
            ]
            if let id = request.guestID {
                var guest: [(key: String, value: JSONValue)] = [("id", .string(String(id)))]
                if let kind = request.guestKind ?? estate.guest(id)?.kind { guest.append(("type", .string(kind.rawValue))) }
                members.append(("guest", .object(guest)))
            }
            return .object(members)
        }
        let document = JSONValue.object([("version", .number(1)), ("certificates", .array(requests))])
        output.files.append(RenderedFile(target: .report, path: "certs/requests.json", contents: JSONWriter().string(document) + "\n"))
    }
}
