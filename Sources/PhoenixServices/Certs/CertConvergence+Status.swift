import Foundation
import PhoenixCore

/// `certs status NAME…`: the certificates a status shows (all when empty); only theirs are probed.
public enum CertificatesShown: KindOption {
    public static let defaultValue: Set<String> = []
}

extension CertConvergence: StatusKind {
    /// Every certificate as installed (one bulk read per machine) and what each endpoint serves now.
    public func status(in context: KindContext) async throws(ResourceFailure) -> CertsStatus {
        let report = await plan()
        await shutdown()
        if let error = report.error ?? report.notReady { throw .cannotCheck(reason: error) }
        return await CertsStatus.read(report, names: shown, now: now(), timeout: min(5, estate.settings.stepCA.timeout))
    }
}
