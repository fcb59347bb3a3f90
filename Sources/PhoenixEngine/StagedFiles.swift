import Foundation
import PhoenixCore

/// Writes many files atomically: each to a temporary sibling first (created exclusively, never
/// through a symbolic link, with exactly its mode), then all renamed into place. A failure before
/// the renames removes the temporaries and the directories it created, leaving the tree as it was.
///
/// The cost per file is the kernel's: one exclusive create, one write, one close and one rename
/// (the same inode work as `cp`). Parents are created once; the mode is set with `fchmod` only when
/// the umask would clear bits of it; the files are written by a few threads at once.
public enum StagedFiles {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// One file to write: where, what and with which mode.
    public struct File: Sendable {
        public let path: String
        public let contents: String
        public let mode: mode_t

        public init(path: String, contents: String, mode: mode_t) {
            self.path = path
            self.contents = contents
            self.mode = mode
        }
    }

    /// The suffix of the temporary siblings.
    public static let temporarySuffix = ".phoenix-tmp"

    public static func write(_ files: [File], workers: Int = ProcessInfo.processInfo.activeProcessorCount) throws(Failure) {
        var createdDirectories: [String] = []
        var known = Set<String>()
        do throws(Failure) {
            for file in files { try makeParents(of: file.path, known: &known, created: &createdDirectories) }
        } catch {
            for directory in createdDirectories.reversed() { rmdir(directory) }
            throw error
        }
        let mask = currentUmask()
        let chunks = max(1, min(workers, files.count / 256))
        let size = (files.count + chunks - 1) / max(1, chunks)
        let failures = Concurrent.map(chunks) { chunk -> Failure? in
            for file in files[(chunk * size)..<min(files.count, (chunk + 1) * size)] {
                do throws(Failure) { try writeNew(file.path + temporarySuffix, file.contents, mode: file.mode, umask: mask, reportedAs: file.path) } catch {
                    return error
                }
            }
            return nil
        }
        if let failure = failures.compactMap({ $0 }).first {
            for file in files { unlink(file.path + temporarySuffix) }
            for directory in createdDirectories.reversed() { rmdir(directory) }
            throw failure
        }
        for file in files where POSIX.rename(file.path + temporarySuffix, file.path) != 0 {
            throw Failure(path: file.path, reason: String(cString: strerror(errno)))
        }
    }

    /// Creates the missing parent directories of `path`, remembering which exist and which it made.
    static func makeParents(of path: String, known: inout Set<String>, created: inout [String]) throws(Failure) {
        var missing: [String] = []
        var directory = (path as NSString).deletingLastPathComponent
        while !directory.isEmpty, directory != "/", !known.contains(directory) {
            var status = stat()
            if stat(directory, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else { throw Failure(path: path, reason: "\(directory) is not a directory") }
                break
            }
            missing.append(directory)
            directory = (directory as NSString).deletingLastPathComponent
        }
        known.insert(directory)
        for directory in missing.reversed() {
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                throw Failure(path: path, reason: "cannot create \(directory): \(String(cString: strerror(errno)))")
            }
            created.append(directory)
            known.insert(directory)
        }
    }

    /// Creates `path` exclusively (a stale temporary of a crashed run is removed first) with exactly
    /// `mode`, and writes `contents`.
    /// - Parameter durable: `fsync` before closing (sync's staged files, which go live).
    public static func writeNew(
        _ path: String, _ contents: String, mode: mode_t, umask: mode_t = currentUmask(), durable: Bool = false, reportedAs target: String
    ) throws(Failure) {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var descriptor = open(path, flags, mode)
        if descriptor < 0 && errno == EEXIST {
            unlink(path)
            descriptor = open(path, flags, mode)
        }
        guard descriptor >= 0 else { throw Failure(path: target, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        if mode & umask != 0 { guard fchmod(descriptor, mode) == 0 else { throw Failure(path: target, reason: String(cString: strerror(errno))) } }
        var contents = contents
        let written = contents.withUTF8 { bytes in POSIX.writeAll(descriptor, bytes) }
        guard written else { throw Failure(path: target, reason: String(cString: strerror(errno))) }
        if durable { guard fsync(descriptor) == 0 else { throw Failure(path: target, reason: "fsync: \(String(cString: strerror(errno)))") } }
    }

    /// The process's umask, read without changing it.
    public static func currentUmask() -> mode_t {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
            let value = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        {
            return value
        }
        return 0o777  // unknown: always fchmod
    }
}
