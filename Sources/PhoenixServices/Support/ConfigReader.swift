import Foundation
import PhoenixCore

/// Reads a Phoenix Hypervisor configuration directory (and its stacks directory) from disk.
public struct ConfigReader {
    public let configDirectory: String
    public let stacksDirectory: String

    public init(configDirectory: String, stacksDirectory: String) {
        self.configDirectory = configDirectory
        self.stacksDirectory = stacksDirectory
    }

    public func read() -> ConfigSources {
        typealias Name = ConfigSources.FileName
        var unreadable: [(name: String, reason: String)] = []
        func file(_ path: String, required: Bool) -> ConfigSources.File? {
            if let data = FileManager.default.contents(atPath: path) {
                return ConfigSources.File(name: path, bytes: Array(data))
            }
            if required || FileManager.default.fileExists(atPath: path) {
                unreadable.append((path, FileManager.default.fileExists(atPath: path) ? "permission denied or not a regular file" : "no such file"))
            }
            return nil
        }
        let directory = configDirectory.hasSuffix("/") ? String(configDirectory.dropLast()) : configDirectory
        let hypervisorPath = "\(directory)/\(Name.hypervisor)"
        let hypervisor = file(hypervisorPath, required: true) ?? ConfigSources.File(name: hypervisorPath, bytes: [])
        let guestFiles = ConfigSources.guestFileNames(hypervisor: hypervisor.bytes)
        let lxc = file("\(directory)/\(guestFiles.lxc)", required: false)
        let vm = file("\(directory)/\(guestFiles.vm)", required: false)
        let stacksConfig = file("\(directory)/\(Name.stacksConfig)", required: false)
        let manifest = file("\(directory)/\(Name.certificateManifest)", required: false)

        var stackDirectories: [ConfigSources.StackDirectory] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stacksDirectory)) ?? []
        for name in names.sorted() {
            var isDirectory: ObjCBool = false
            let path = "\(stacksDirectory)/\(name)"
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let compose = file("\(path)/\(Name.compose)", required: false)
            let manifest = file("\(path)/\(Name.stackManifest)", required: false)
            if compose != nil || manifest != nil {
                stackDirectories.append(ConfigSources.StackDirectory(name: name, compose: compose, manifest: manifest))
            }
        }
        return ConfigSources(
            hypervisor: hypervisor, lxc: lxc, vm: vm, stacksConfig: stacksConfig, certificateManifest: manifest,
            stackDirectories: stackDirectories, unreadable: unreadable)
    }
}

/// Reads every file of every stack directory for the files stage: regular files only (links are not
/// followed), text only (the state store keeps contents as text).
public enum StackFilesReader {
    public static func read(_ stacksDirectory: String) -> (files: [StackFile], skipped: [String]) {
        var files: [StackFile] = []
        var skipped: [String] = []
        let manager = FileManager.default
        let stacks = ((try? manager.contentsOfDirectory(atPath: stacksDirectory)) ?? []).sorted()
        for stack in stacks where !stack.hasPrefix(".") {
            let base = "\(stacksDirectory)/\(stack)"
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: base, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for relative in ((manager.enumerator(atPath: base)?.allObjects as? [String]) ?? []).sorted() {
                let path = "\(base)/\(relative)"
                var status = stat()
                guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
                guard let data = manager.contents(atPath: path), !data.contains(0), let text = String(data: data, encoding: .utf8) else {
                    skipped.append("\(stack)/\(relative)")
                    continue
                }
                files.append(StackFile(path: "\(stack)/\(relative)", contents: text, executable: status.st_mode & 0o100 != 0))
            }
        }
        return (files, skipped)
    }
}
