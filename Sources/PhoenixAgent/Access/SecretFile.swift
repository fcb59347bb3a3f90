import Foundation

/// Why a secret file (webhook secret, status token, notification token) cannot be used. Names the
/// file, never its contents.
public enum SecretFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(path: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read the secret file \(path): \(reason)"
        case let .empty(path): return "the secret file \(path) is empty: write the secret into it (a trailing newline is ignored)"
        }
    }
}

/// A file that holds one secret: its whole contents, less trailing newlines.
public enum SecretFile {
    /// The secret in the file at `path`, read now (callers re-read it to pick up a rotation).
    public static func read(_ path: String) throws(SecretFileError) -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: reason(error))
        }
        return try secret(in: Array(data), path: path)
    }

    /// The secret in a file's `contents`: trailing `\n` and `\r\n` dropped; nothing left is an error.
    public static func secret(in contents: [UInt8], path: String) throws(SecretFileError) -> [UInt8] {
        var bytes = contents[...]
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { throw .empty(path: path) }
        return Array(bytes)
    }

    /// The secret as text (a token), or an error when the file is not UTF-8.
    public static func readText(_ path: String) throws(SecretFileError) -> String {
        let bytes = try read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .unreadable(path: path, reason: "it is not UTF-8 text") }
        return text
    }

    /// Why a read failed, in a few words (never Foundation's long message, which repeats the path).
    private static func reason(_ error: any Error) -> String {
        switch (error as NSError).code {
        case NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        default: return "it is not a readable file"
        }
    }
}
