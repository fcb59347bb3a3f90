import Crypto
import Foundation

/// Why a tokens file cannot be used: names the file and the line, never a token or its hash.
public enum AccessTokensError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidLine(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read the tokens file \(path): \(reason)"
        case let .invalidLine(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}

/// The agent's API tokens, from a file of `ROLE NAME SHA256-HEX-OF-THE-TOKEN` lines (`#` comments
/// and blank lines allowed). Only hashes are kept; a presented token is hashed and compared with
/// every entry in constant time.
public struct AccessTokens: Sendable, CustomStringConvertible {
    struct Entry: Sendable {
        let identity: Identity
        let digest: [UInt8]
    }

    let entries: [Entry]

    /// The identities the file declares, in file order.
    public var identities: [Identity] { entries.map(\.identity) }

    public var description: String { "\(entries.count) access token(s): \(identities.map(\.description).joined(separator: ", "))" }

    /// Reads and parses the tokens file at `path`.
    public static func load(_ path: String) throws(AccessTokensError) -> AccessTokens {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let code = (error as NSError).code
            throw .unreadable(
                path: path,
                reason: code == NSFileReadNoSuchFileError
                    ? "no such file" : code == NSFileReadNoPermissionError ? "permission denied" : "it is not a readable file")
        }
        guard let text = String(validating: Array(data), as: UTF8.self) else { throw .unreadable(path: path, reason: "it is not UTF-8 text") }
        return try parse(text, path: path)
    }

    /// Parses a tokens file's text; `path` names it in errors.
    public static func parse(_ text: String, path: String) throws(AccessTokensError) -> AccessTokens {
        var entries: [Entry] = []
        var names = Set<String>()
        var digests: [[UInt8]: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            func invalid(_ reason: String) -> AccessTokensError { .invalidLine(path: path, line: offset + 1, reason: reason) }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3 else {
                throw invalid("expected three fields, ROLE NAME SHA256-HEX-OF-THE-TOKEN, found \(fields.count)")
            }
            guard let role = Role(rawValue: String(fields[0])) else {
                throw invalid("the first field must be a role: read or operate")
            }
            let name = String(fields[1])
            guard names.insert(name).inserted else { throw invalid("the name \(name) is already given to another token") }
            guard fields[2].utf8.count == 64, let digest = ConstantTime.bytes(hex: fields[2]) else {
                throw invalid("the third field must be the SHA-256 of the token, 64 hexadecimal digits (sha256sum prints it)")
            }
            if let first = digests[digest] { throw invalid("this token is already given on line \(first)") }
            digests[digest] = offset + 1
            entries.append(Entry(identity: Identity(name: name, role: role), digest: digest))
        }
        return AccessTokens(entries: entries)
    }

    /// Who an `Authorization: Bearer <token>` header names, or nil (no header, another scheme, an
    /// unknown token).
    public func authorize(authorization header: String?) -> Identity? {
        guard let header else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].lowercased() == "bearer" else { return nil }
        let token = trimmed[space...].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { return nil }
        return authorize(token: token)
    }

    /// Who `token` belongs to, or nil. Every entry is compared, whichever matches.
    public func authorize(token: String) -> Identity? {
        authorize(digest: Self.digest(token))
    }

    /// Who the token with this SHA-256 belongs to, or nil (what a dashboard session keeps of it).
    public func authorize(digest: [UInt8]) -> Identity? {
        var match: Identity?
        for entry in entries where ConstantTime.equalDigests(entry.digest, digest) {
            match = entry.identity
        }
        return match
    }

    /// A token's SHA-256, as the tokens file lists it.
    public static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }
}
