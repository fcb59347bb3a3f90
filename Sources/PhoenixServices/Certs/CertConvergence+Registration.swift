import PhoenixCore
import PhoenixEngine

extension CertConvergence {
    /// The certificates take part when the `certs` stage is asked; the Swarm secrets they feed
    /// take the files they install.
    public static let registration = KindRegistration(kind: CertKind()) { environment in
        guard environment.asks(.certs), let machines = environment.machines?() else { return .none }
        var certs = CertConvergence(estate: environment.estate, machines: machines)
        certs.feed = environment.feed
        certs.force = environment.force
        return KindSetup(runner: certs.runner(executor: environment.executor(), stats: environment.stats))
    }
}
