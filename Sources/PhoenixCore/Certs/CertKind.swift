/// The certificates of `certificate-manifest.json` (`certs` stage): `cert:<common name>`. Each needs
/// the CA's root trusted on the host (`trust:ca-root`) and the guest it is installed in; the Swarm
/// secrets a certificate feeds need the certificate (SwarmKind declares that edge).
public struct CertKind: ResourceKind {
    public let name = "cert"

    public init() {}

    public static func id(_ commonName: String) -> String { "cert:\(commonName)" }
    /// The certificate's files in place (installed, or already there): what a service configuration
    /// naming them waits for. The certificate itself settles after its reload and served check.
    public static func filesID(_ commonName: String) -> String { "cert:\(commonName)/files" }
    public static let trustID = "trust:ca-root"

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.certs) else { return [] }
        return context.estate.certificates.flatMap { request in
            var needs = [Self.trustID]
            if let guest = request.guestID { needs.append(GuestSettingsKind.id(guest)) }
            return [
                ResourceNode(id: Self.id(request.commonName), kind: name, stage: .certs, target: .host, dependsOn: needs),
                ResourceNode(id: Self.filesID(request.commonName), kind: name, stage: .certs, target: .host, dependsOn: needs),
            ]
        }
    }
}
