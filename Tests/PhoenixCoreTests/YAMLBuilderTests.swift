import Testing
import Yams

@testable import PhoenixCore

@Suite("YAML built as data")
struct YAMLBuilderTests {
    /// Strings that YAML 1.1 would read as something else unless quoted, beside ordinary ones.
    static let texts = [
        "", "~", "null", "NULL", "true", "False", "yes", "NO", "on", "Off", "<<", "=", "0", "42", "-7", "+7", "0x1F", "0o17", "0b101",
        "1_000", "3.14", "1e3", ".5", ".inf", "-.INF", ".nan", "190:20:30", "2026-11-27", "2026-11-27 10:00:00", "hello", "websecure",
        "10.0.0.1", "1.2.3", "123abc", "traefik.http.routers.x.rule=Host(`a`)", "Host(`a.example`)", "a: b", "- x", "#x", "*alias", "!tag",
        "yes please", "truely", "nullable",
    ]

    @Test("every string reads back as the same string", arguments: texts)
    func roundTrip(text: String) throws {
        let document = YAML.document(YAML.map([("value", YAML.string(text))]), comment: "test")
        let loaded = try Yams.load(yaml: document) as? [String: Any]
        #expect(loaded?["value"] as? String == text, "\(document)")
    }

    @Test("ordinary strings stay plain; numbers, booleans and nulls are quoted")
    func quoting() {
        #expect(YAML.document(YAML.map([("a", YAML.string("websecure"))]), comment: "c") == "# c\na: websecure\n")
        #expect(YAML.document(YAML.map([("a", YAML.string("8080"))]), comment: "c") == "# c\na: \"8080\"\n")
        #expect(YAML.document(YAML.map([("a", YAML.string("on"))]), comment: "c") == "# c\na: \"on\"\n")
    }

    @Test("mapping keys come out sorted whatever order they were given in")
    func sortedKeys() {
        let node = YAML.map([("zeta", YAML.int(1)), ("alpha", YAML.map([("y", YAML.bool(true)), ("b", YAML.bool(false))])), ("mid", YAML.int(2))])
        #expect(YAML.document(node, comment: "c") == "# c\nalpha:\n  b: false\n  y: true\nmid: 2\nzeta: 1\n")
    }
}
