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

    /// The guest configuration file names the hypervisor file points at: the basenames of
    /// `core_paths.lxc_config_file` and `core_paths.vm_config_file` (the original reads them at those
    /// absolute paths; phoenix looks for them beside the hypervisor file). The defaults when the
    /// hypervisor file does not parse or names none, or names something that is not a plain file name.
    public static func guestFileNames(hypervisor: [UInt8]) -> (lxc: String, vm: String) {
        guard let document = try? JSONParser.parse(hypervisor).value, let paths = document["core_paths"] else {
            return (FileName.lxc, FileName.vm)
        }
        func basename(_ key: String, _ fallback: String) -> String {
            guard case let .string(path)? = paths[key], let name = path.split(separator: "/").last.map(String.init),
                name != "..", name != ".", TextRules.isAbsolutePath("/" + name)
            else { return fallback }
            return name
        }
        return (basename("lxc_config_file", FileName.lxc), basename("vm_config_file", FileName.vm))
    }
}
