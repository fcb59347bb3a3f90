import Foundation

/// Renders the certificate requests as JSON: what the certs stage will ask Step-CA for. No issuance.
struct CertificateRenderer {
    let estate: Estate

    struct Document: Encodable {
        let version = 1
        let certificates: [Request]
    }

    struct Request: Encodable {
        struct Guest: Encodable {
            let id: String
            let type: String?
        }
        let commonName: String
        let dnsSans: [String]
        let ipSans: [String]
        let certPath: String
        let keyPath: String
        let owner: String
        let group: String
        let certMode: String
        let keyMode: String
        let certType: String
        let includeCA: Bool
        let guest: Guest?
        let hooks: [String]

        enum CodingKeys: String, CodingKey {
            case commonName = "common_name", dnsSans = "dns_sans", ipSans = "ip_sans", certPath = "cert_path"
            case keyPath = "key_path", owner, group, certMode = "cert_mode", keyMode = "key_mode", certType = "cert_type"
            case includeCA = "include_ca", guest, hooks
        }
    }

    func render(into output: inout RenderOutput) {
        let requests = estate.certificates.map { request in
            Request(
                commonName: request.commonName,
                dnsSans: request.dnsNames.map(\.text),
                ipSans: request.ipAddresses.map(String.init(describing:)),
                certPath: request.certPath, keyPath: request.keyPath, owner: request.owner, group: request.group,
                certMode: request.certMode, keyMode: request.keyMode, certType: request.certType, includeCA: request.includeCA,
                guest: request.guestID.map { id in Request.Guest(id: String(id), type: (request.guestKind ?? estate.guest(id)?.kind)?.rawValue) },
                hooks: request.hooks)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Document(certificates: requests))) ?? Data()
        output.files.append(RenderedFile(target: .report, path: "certs/requests.json", contents: String(decoding: data, as: UTF8.self) + "\n"))
    }
}
