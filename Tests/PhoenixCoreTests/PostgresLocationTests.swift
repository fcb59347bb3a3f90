import Testing

@testable import PhoenixCore

@Suite("A PostgreSQL state store's URL and password: parsed at the boundary, never printed")
struct PostgresLocationTests {
    static func parse(_ text: String) throws(PostgresLocation.Invalid) -> PostgresLocation {
        try PostgresLocation(parsing: text, defaultUser: "ops")
    }

    @Test("host, port, database, user, sslmode and sslrootcert; verify-full when the URL says nothing")
    func parses() throws {
        let full = try Self.parse("postgres://phoenix@db.lab.example:5433/estate?sslmode=verify-full&sslrootcert=/etc/phoenix/pg-root.pem")
        #expect(full.user == "phoenix" && full.database == "estate" && full.endpoint == .tcp(host: "db.lab.example", port: 5433))
        #expect(full.tls == .verifyFull && full.rootCertificate == "/etc/phoenix/pg-root.pem")
        #expect(full.description == "postgres://phoenix@db.lab.example:5433/estate?sslmode=verify-full&sslrootcert=/etc/phoenix/pg-root.pem")
        let plain = try Self.parse("postgresql://DB.lab/estate?sslmode=disable")
        #expect(plain.user == "ops" && plain.endpoint == .tcp(host: "db.lab", port: 5432) && plain.tls == .disable, "the OS user, the default port")
        let socket = try Self.parse("postgres:///estate?host=/run/postgresql&port=5544&sslmode=disable")
        #expect(socket.endpoint == .socket(directory: "/run/postgresql", port: 5544))
        #expect(socket.description == "postgres://ops@/estate?host=/run/postgresql&port=5544")
        // The issue's own form: no sslmode, no root. A socket carries no TLS (as with libpq).
        let bare = try Self.parse("postgres:///estate?host=/run/postgresql")
        #expect(bare.endpoint == .socket(directory: "/run/postgresql", port: 5432) && bare.tls == .disable && bare.rootCertificate == nil)
        let v6 = try Self.parse("postgres://a%40b@[fd00::5]:6543/my%20estate?sslmode=require")
        #expect(v6.user == "a@b" && v6.database == "my estate" && v6.endpoint == .tcp(host: "fd00::5", port: 6543))
        #expect(v6.description.hasPrefix("postgres://a@b@[fd00::5]:6543/"))
        let defaulted = try Self.parse("postgres://db/estate?sslrootcert=/ca.pem")
        #expect(defaulted.tls == .verifyFull, "verify-full unless the URL asks for less")
        #expect(PostgresLocation.isURL("postgres://x/y") && !PostgresLocation.isURL("/var/lib/phoenix/state.sqlite"))
    }

    @Test(
        "a URL phoenix cannot use is refused naming the part; a password in it is refused without echoing it",
        arguments: [
            ("postgres://phoenix:hunter2-Secret@db/estate?sslmode=disable", "holds a password"),
            ("postgres://db/estate?password=hunter2-Secret&sslmode=disable", "holds a password"),
            ("postgres://db/?sslmode=disable", "name the database"),
            ("postgres://db:99999/estate?sslmode=disable", "port 99999"),
            ("postgres://db/estate?sslmode=prefer", "sslmode=prefer is not one of disable, require, verify-ca, verify-full"),
            ("postgres://db/estate", "needs sslrootcert"),
            ("postgres://db/estate?sslmode=disable&application_name=x", "application_name is not a parameter"),
            ("postgres:///estate?host=run/pg&sslmode=disable", "an absolute path"),
            ("postgres:///estate?sslmode=disable", "name the host"),
            ("mysql://db/estate", "postgres://user@host:port/database"),
        ])
    func refuses(_ text: String, _ reason: String) {
        do {
            _ = try Self.parse(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
            #expect(!error.description.contains("hunter2-Secret"), "the password is never echoed: \(error)")
        }
    }

    @Test("the password: the file first (its newline dropped), then $PGPASSWORD, then the password file's first matching line")
    func passwordSources() throws {
        let location = try Self.parse("postgres://phoenix@db.lab:5432/estate?sslmode=disable")
        let files = [
            "/etc/phoenix/pg.pass": "from-the-file-7c1\n",
            "/root/.pgpass": "# a comment\nother:5432:estate:phoenix:not-this-one\ndb.lab:*:estate:phoenix:from-pgpass\\:with-colon\n",
            "/custom/pgpass": "*:*:*:*:from-custom\n",
        ]
        func find(_ file: String?, _ environment: [String: String]) throws(PostgresPassword.Unreadable) -> PostgresPassword? {
            try PostgresPassword.find(for: location, passwordFile: file, environment: environment, read: { files[$0] })
        }
        let fromFile = try #require(try find("/etc/phoenix/pg.pass", ["PGPASSWORD": "from-env"]))
        #expect(fromFile.value == "from-the-file-7c1" && fromFile.source == "--state-password-file /etc/phoenix/pg.pass")
        #expect(!fromFile.description.contains("from-the-file-7c1"), "printed, it says where it came from: \(fromFile)")
        #expect(try find(nil, ["PGPASSWORD": "from-env", "HOME": "/root"])?.value == "from-env")
        let pgpass = try #require(try find(nil, ["HOME": "/root"]))
        #expect(pgpass.value == "from-pgpass:with-colon" && pgpass.source == "/root/.pgpass line 3", "\(pgpass.source)")
        #expect(try find(nil, ["PGPASSFILE": "/custom/pgpass", "HOME": "/root"])?.value == "from-custom")
        #expect(try find(nil, ["HOME": "/nowhere"]) == nil, "none given: the server may not ask for one")
        #expect(throws: PostgresPassword.Unreadable(reason: "--state-password-file /missing cannot be read")) { try find("/missing", [:]) }
        let socket = try Self.parse("postgres:///estate?host=/run/postgresql&sslmode=disable")
        #expect(PostgresPassword.passFileEntry("localhost:5432:estate:ops:sock\n", for: socket)?.password == "sock", "a socket matches localhost")
    }
}
