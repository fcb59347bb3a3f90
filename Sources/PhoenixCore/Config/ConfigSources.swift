/// The raw bytes of a Phoenix Hypervisor configuration, as read by the CLI. The core never touches
/// the file system: whoever calls the loader supplies these.
public struct ConfigSources: Sendable {
    /// One file: the name diagnostics use, and its bytes.
    public struct File: Sendable {
        public let name: String
        public let bytes: [UInt8]
        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// `stacks/<name>/`: its compose file and its legacy `phoenix.json` manifest, either optional.
    public struct StackDirectory: Sendable {
        public let name: String
        public let compose: File?
        public let manifest: File?
        public init(name: String, compose: File?, manifest: File?) {
            self.name = name
            self.compose = compose
            self.manifest = manifest
        }
    }

    public var hypervisor: File
    public var lxc: File?
    public var vm: File?
    public var stacksConfig: File?
    public var certificateManifest: File?
    public var stackDirectories: [StackDirectory]
    /// Files that were expected but could not be read, with the reason.
    public var unreadable: [(name: String, reason: String)]

    public init(
        hypervisor: File, lxc: File?, vm: File?, stacksConfig: File? = nil, certificateManifest: File? = nil,
        stackDirectories: [StackDirectory] = [], unreadable: [(name: String, reason: String)] = []
    ) {
        self.hypervisor = hypervisor
        self.lxc = lxc
        self.vm = vm
        self.stacksConfig = stacksConfig
        self.certificateManifest = certificateManifest
        self.stackDirectories = stackDirectories
        self.unreadable = unreadable
    }

    /// The file names the original reads, relative to the config directory.
    public enum FileName {
        public static let hypervisor = "phoenix_hypervisor_config.json"
        public static let lxc = "phoenix_lxc_configs.json"
        public static let vm = "phoenix_vm_configs.json"
        public static let stacksConfig = "phoenix_stacks_config.json"
        public static let certificateManifest = "certificate-manifest.json"
        public static let compose = "docker-compose.yml"
        public static let stackManifest = "phoenix.json"
    }
}
