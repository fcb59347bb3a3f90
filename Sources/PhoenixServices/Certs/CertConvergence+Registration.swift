import PhoenixCore
import PhoenixEngine

/// `--force NAME`: certificates renewed whatever their state.
public enum ForceRenewal: KindOption {
    public static let defaultValue: Set<String> = []
}

extension Estate {
    /// The common names no entry of the manifest has (valid or refused for its own errors).
    public func unknownCertificates(_ names: [String]) -> [String] {
        let known = Set(certificates.map(\.commonName) + refusedCertificates.map(\.commonName))
        return names.filter { !known.contains($0) }
    }
}

extension CertConvergence {
    /// The certificates take part when the `certs` stage is asked; the Swarm secrets they feed
    /// take the files they install.
    public static let registration = KindRegistration(kind: CertKind()) { environment in
        guard environment.asks(.certs), let machines = environment.machines?() else { return .none }
        var certs = CertConvergence(estate: environment.estate, machines: machines)
        certs.feed = environment.feed
        certs.force = environment.options[ForceRenewal.self]
        certs.shown = environment.options[CertificatesShown.self]
        return KindSetup(runner: certs.runner(executor: environment.executor(), stats: environment.stats))
    }
}
