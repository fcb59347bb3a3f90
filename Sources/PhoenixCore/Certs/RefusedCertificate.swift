/// A manifest entry left out for problems of its own (`validate` names them; plan and sync fail
/// its certificate, whose installed files stay as they are, while the others converge).
public struct RefusedCertificate: Sendable, Equatable {
    /// Lowercased, as the resource id has it.
    public var commonName: String
    public var location: SourceLocation
    /// The entry's errors, each as `file#pointer: message`.
    public var problems: [String]

    public init(commonName: String, location: SourceLocation, problems: [String]) {
        self.commonName = commonName
        self.location = location
        self.problems = problems
    }

    public var resourceID: String { CertificateRequest.resourceID(commonName) }

    /// Why the certificate is not converged, for plan, sync and status.
    public var reason: String {
        "its manifest entry \(location.file)#\(location.pointer) is invalid, so phoenix leaves it as it is: " + problems.joined(separator: "; ")
    }
}
