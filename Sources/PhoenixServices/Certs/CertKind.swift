/// The certificates of `certificate-manifest.json` (`certs` stage): `cert:<common name>`. Each needs
/// the CA's root trusted on the host (`trust:ca-root`) and the guest it is installed in; the Swarm
/// secrets a certificate feeds need the certificate (SwarmKind declares that edge).
import PhoenixCore

public struct CertKind: ResourceKind {
    public let name = "cert"
    public let stages: [SyncStage] = [.certs]

    public init() {}

    public static func id(_ commonName: String) -> String { CertificateRequest.resourceID(commonName) }
    /// The certificate's files in place (installed, or already there): what a service configuration
    /// naming them waits for. The certificate itself settles after its reload and served check.
    public static func filesID(_ commonName: String) -> String { id(commonName) + "/files" }
    public static let trustID = "trust:ca-root"

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.certs) else { return [] }
        // A certificate installed in a guest is that guest's (`--target`); one only on the host is the estate's.
        let requests = context.estate.certificates.map { request in
            (request.commonName, [Self.trustID] + (request.guestID.map { [Guest.resourceID($0)] } ?? []), request.guestID)
        }
        // An entry left out for its own errors is still a resource: it fails, and what needs it waits for that.
        let refused = context.estate.refusedCertificates.map { ($0.commonName, [Self.trustID], Int?.none) }
        return (requests + refused).flatMap { commonName, needs, guest in
            let owner = guest.map { ResourceNode.Owner.guest($0) } ?? .estate
            return [
                ResourceNode(id: Self.id(commonName), kind: name, stage: .certs, target: .host, dependsOn: needs, owner: owner),
                ResourceNode(id: Self.filesID(commonName), kind: name, stage: .certs, target: .host, dependsOn: needs, owner: owner),
            ]
        }
    }
}
