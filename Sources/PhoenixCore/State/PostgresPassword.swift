/// The password of a PostgreSQL state store, found where libpq would look, first found wins:
/// `--state-password-file` (a trailing newline ignored), `$PGPASSWORD`, then the password file
/// (`$PGPASSFILE`, else `~/.pgpass`) in libpq's format. Printed, it says only where it came from.
public struct PostgresPassword: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String
    /// Where it was found (`--state-password-file /etc/phoenix/pg.pass`, `$PGPASSWORD`, `$PGPASSFILE
    /// /root/.pgpass line 3`): what an error may name.
    public let source: String

    public var description: String { "the password from \(source)" }

    /// Debug printing and `dump` (a value holding one, printed whole) show where it came from, never it.
    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["source": source]) }

    /// Why the password file named cannot be used (never its contents).
    public struct Unreadable: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The password for `location`, or nil when none is given anywhere (the server may not ask for
    /// one: peer or certificate authentication). `read` reads a file (nil: it does not exist).
    public static func find(
        for location: PostgresLocation, passwordFile: String?, environment: [String: String], read: (String) -> String?
    ) throws(Unreadable) -> PostgresPassword? {
        if let passwordFile {
            guard let text = read(passwordFile) else { throw Unreadable(reason: "--state-password-file \(passwordFile) cannot be read") }
            var value = Substring(text)
            while value.last == "\n" || value.last == "\r" { value.removeLast() }
            guard !value.isEmpty else { throw Unreadable(reason: "--state-password-file \(passwordFile) is empty") }
            return PostgresPassword(value: String(value), source: "--state-password-file \(passwordFile)")
        }
        if let value = environment["PGPASSWORD"], !value.isEmpty { return PostgresPassword(value: value, source: "$PGPASSWORD") }
        let (file, named) =
            environment["PGPASSFILE"].map { ($0, "$PGPASSFILE \($0)") } ?? (environment["HOME"].map { ("\($0)/.pgpass", "\($0)/.pgpass") } ?? ("", ""))
        guard !file.isEmpty, let text = read(file) else { return nil }
        return passFileEntry(text, for: location).map { PostgresPassword(value: $0.password, source: "\(named) line \($0.line)") }
    }

    /// The first line of a libpq password file that matches `location`
    /// (`hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped).
    static func passFileEntry(_ text: String, for location: PostgresLocation) -> (password: String, line: Int)? {
        let host: String
        let port: Int
        switch location.endpoint {
        case let .tcp(name, number): (host, port) = (name, number)
        // libpq matches a socket connection as "localhost".
        case let .socket(_, number): (host, port) = ("localhost", number)
        }
        let wanted = [host, String(port), location.database, location.user]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            let fields = fields(of: trimmed)
            guard fields.count == 5 else { continue }
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return (fields[4], index + 1) }
        }
        return nil
    }

    private static func fields(of line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
