import Crypto
import Foundation
import PhoenixCerts
import PhoenixCore
import PhoenixEngine
import X509

/// The pinned root: read from the host once per run, its fingerprint checked when configured.
public struct PinnedRoot: Sendable {
    public let pem: String
    public let certificate: Certificate
    public let fingerprint: String
}

/// The run's way to Step-CA, opened on first need and kept: the pinned root, the client, and the
/// provisioner key (decrypted with the password file). A failure is kept too: every certificate
/// that needs the CA fails with the same reason, the others are untouched.
public actor CAConnection {
    public typealias MakeClient = @Sendable (_ url: String, _ rootPEM: String, _ timeout: TimeInterval) -> any CertificateAuthority

    public static let live: MakeClient = { url, rootPEM, timeout in StepCAClient.live(url: url, rootPEM: rootPEM, timeout: timeout) }

    let estate: Estate
    let host: any Machine
    let makeClient: MakeClient
    // Each of these is read or made once a run, whoever asks first; callers that come while it is
    // under way wait for the same one (the actor is re-entered at every await: without the task two
    // certificates converging side by side would each open a client, and one would never be shut down).
    var pinned: Task<Result<PinnedRoot, CertConfigError>, Never>?
    var rootText: Task<Result<String?, CertConfigError>, Never>?
    var connected: Task<Result<any CertificateAuthority, CertConfigError>, Never>?
    var provisioner: Task<Result<ProvisionerKey, CertConfigError>, Never>?

    init(estate: Estate, host: any Machine, makeClient: @escaping MakeClient) {
        self.estate = estate
        self.host = host
        self.makeClient = makeClient
    }

    var settings: StepCASettings { estate.settings.stepCA }

    public func root() async -> Result<PinnedRoot, CertConfigError> {
        if let pinned { return await pinned.value }
        let task = Task { await self.readRoot() }
        pinned = task
        return await task.value
    }

    /// The root file as read from the host (once a run); nil when it is not there.
    public func rootFile() async -> Result<String?, CertConfigError> {
        if let rootText { return await rootText.value }
        let task = Task { await self.readRootFile() }
        rootText = task
        return await task.value
    }

    func readRootFile() async -> Result<String?, CertConfigError> {
        do throws(MachineError) {
            return .success(try await host.read(settings.rootFile ?? estate.settings.trustSource))
        } catch {
            return .failure(CertConfigError(message: error.description))
        }
    }

    func readRoot() async -> Result<PinnedRoot, CertConfigError> {
        let path = settings.rootFile ?? estate.settings.trustSource
        let text: String?
        switch await rootFile() {
        case let .failure(error): return .failure(error)
        case let .success(read): text = read
        }
        guard let text else {
            return .failure(CertConfigError(message: "the Step-CA root \(path) is not on the host (the CA guest exports it; phoenix.step_ca.root_file)"))
        }
        let certificate: Certificate
        do throws(CertificateReader.Failure) {
            certificate = try CertificateReader.certificates(text)[0]
        } catch {
            return .failure(CertConfigError(message: "the Step-CA root \(path) is \(error.description)"))
        }
        let fingerprint = CertificateReader.fingerprint(certificate)
        if let expected = settings.rootFingerprint, expected != fingerprint {
            return .failure(
                CertConfigError(message: "the Step-CA root \(path) has fingerprint \(fingerprint), phoenix.step_ca.root_fingerprint says \(expected)"))
        }
        return .success(PinnedRoot(pem: text, certificate: certificate, fingerprint: fingerprint))
    }

    /// The client, its CA checked to serve the pinned root: enough for a renewal (mTLS with the
    /// current certificate), or why the CA cannot be used this run.
    func client() async -> Result<any CertificateAuthority, CertConfigError> {
        if let connected { return await connected.value }
        let task = Task { await self.connect() }
        connected = task
        return await task.value
    }

    /// The client and the provisioner key a new sign needs (the password file read only then).
    func open() async -> Result<(client: any CertificateAuthority, key: ProvisionerKey), CertConfigError> {
        let client: any CertificateAuthority
        switch await self.client() {
        case let .failure(error): return .failure(error)
        case let .success(connected): client = connected
        }
        let task = provisioner ?? Task { await self.loadKey(client) }
        provisioner = task
        switch await task.value {
        case let .failure(error): return .failure(error)
        case let .success(key): return .success((client, key))
        }
    }

    func connect() async -> Result<any CertificateAuthority, CertConfigError> {
        let root: PinnedRoot
        switch await self.root() {
        case let .failure(error): return .failure(error)
        case let .success(pinned): root = pinned
        }
        let url: String
        switch settings.resolvedURL(in: estate) {
        case let .failure(error): return .failure(error)
        case let .success(resolved): url = resolved
        }
        let client = makeClient(url, root.pem, settings.timeout)
        do throws(StepCAError) {
            let roots = try await client.roots()
            let fingerprints = roots.compactMap { try? CertificateReader.certificates($0).first }.map(CertificateReader.fingerprint)
            guard fingerprints.contains(root.fingerprint) else {
                await client.shutdown()
                return .failure(CertConfigError(message: "Step-CA \(url) does not serve the pinned root \(root.fingerprint) among its roots"))
            }
            return .success(client)
        } catch {
            await client.shutdown()
            return .failure(CertConfigError(error))
        }
    }

    func loadKey(_ client: any CertificateAuthority) async -> Result<ProvisionerKey, CertConfigError> {
        let password: String?
        do throws(MachineError) {
            password = try await host.read(settings.passwordFile)
        } catch {
            return .failure(CertConfigError(message: error.description))
        }
        guard let password, !password.isEmpty else {
            return .failure(
                CertConfigError(message: "the provisioner password file \(settings.passwordFile) is missing or empty (phoenix.step_ca.password_file)"))
        }
        let published: (keyID: String, encryptedKey: String)
        do throws(StepCAError) {
            published = try await client.provisioner(named: settings.provisioner)
        } catch {
            return .failure(CertConfigError(error))
        }
        var secret = Array(password.utf8)
        while secret.last == UInt8(ascii: "\n") || secret.last == UInt8(ascii: "\r") { secret.removeLast() }
        do throws(ProvisionerKey.Failure) {
            return .success(
                try ProvisionerKey(
                    name: settings.provisioner, keyID: published.keyID, encryptedKey: published.encryptedKey, password: secret,
                    passwordFile: settings.passwordFile))
        } catch {
            return .failure(CertConfigError(message: error.description))
        }
    }

    /// Step-CA calls so far, by name.
    func calls() async -> [String: Int] {
        guard case let .success(client)? = await connected?.value else { return [:] }
        return await client.counts
    }

    /// Shuts the client down, once it is open (or waits for it to open, then shuts it down); a need
    /// after this opens a new one instead of reaching for a client that is shut down.
    public func shutdown() async {
        let opened = connected
        connected = nil
        if case let .success(client)? = await opened?.value { await client.shutdown() }
    }
}
