import Testing

@testable import PhoenixCore

@Suite("The JSON parser")
struct JSONParserTests {
    @Test("keeps member order and decodes escapes")
    func orderAndEscapes() throws {
        let (value, duplicates) = try JSONParser.parse(Array(#"{"b": 1, "a": "x\u00e9\n\ud83d\ude00", "c": [true, null, -2.5e1]}"#.utf8))
        guard case let .object(members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "c"])
        #expect(value["a"] == .string("xé\n😀"))
        #expect(value["c"] == .array([.bool(true), .null, .number(-25)]))
        #expect(duplicates.isEmpty)
    }

    @Test("reports duplicate keys by pointer")
    func duplicates() throws {
        let (_, duplicates) = try JSONParser.parse(Array(#"{"a": {"x/y": 1, "x/y": 2}}"#.utf8))
        #expect(duplicates.map(\.description) == ["/a/x~1y"])

        let inArray = try JSONParser.parse(Array(#"{"list": [{"a": 1}, {"b": [0, {"a": 1, "a": 2}]}]}"#.utf8)).duplicateKeys
        #expect(inArray.map(\.description) == ["/list/1/b/1/a"])

        // Large objects switch from a scan to a set; both must see the repeat.
        let members = (0..<40).map { "\"k\($0)\": \($0)" } + ["\"k3\": 0", "\"k39\": 0"]
        let large = try JSONParser.parse(Array("{\"big\": {\(members.joined(separator: ", "))}}".utf8)).duplicateKeys
        #expect(large.map(\.description) == ["/big/k3", "/big/k39"])
    }

    @Test(
        "rejects malformed documents with a line and column",
        arguments: [
            ("{\"a\": 1,}", 1, "member name"),
            ("{\"a\": 01}", 1, "leading zeros"),
            ("[1, 2", 1, "end of file"),
            ("{\n  \"a\": tru\n}", 2, "literal"),
            ("\"tab\there\"", 1, "control character"),
            ("{} x", 1, "after the end"),
            ("", 1, "end of file"),
        ])
    func malformed(text: String, line: Int, fragment: String) {
        do {
            _ = try JSONParser.parse(Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test("refuses nesting deep enough to exhaust the stack")
    func depth() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test("resolves RFC 6901 pointers")
    func pointers() throws {
        let (value, _) = try JSONParser.parse(Array(#"{"a/b": {"m~n": [10, 20]}}"#.utf8))
        let pointer = try #require(JSONPointer(parsing: "/a~1b/m~0n/1"))
        #expect(value.resolve(pointer) == .number(20))
        #expect(pointer.description == "/a~1b/m~0n/1")
    }
}

@Suite("The JSON writer")
struct JSONWriterTests {
    @Test("writes sorted, indented JSON")
    func format() {
        let value = JSONValue.object([
            ("b", .array([.number(1), .number(2.5), .null])), ("a", .object([])), ("c", .array([])), ("d", .object([("x", .bool(true))])),
        ])
        #expect(
            JSONWriter().string(value) == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    null\n  ],\n  \"c\": [],\n  \"d\": {\n    \"x\": true\n  }\n}")
        #expect(JSONWriter(sortedKeys: false, pretty: false).string(value) == #"{"b":[1,2.5,null],"a":{},"c":[],"d":{"x":true}}"#)
    }

    @Test(
        "every string survives a round trip through the parser",
        arguments: [
            "", "plain", "quote \" and backslash \\", "tab\tnew\nline\r", "\u{01}\u{1F}", "/path/with/slashes", "é and 😀", "${NAME:-x|y&z}",
        ])
    func roundTrip(text: String) throws {
        let value = JSONValue.object([("key \(text)", .string(text))])
        let written = JSONWriter().string(value)
        #expect(try JSONParser.parse(Array(written.utf8)).value == value)
        #expect(!written.utf8.contains { $0 < 0x20 && $0 != 0x0A && $0 != 0x20 }, "control characters are escaped")
    }
}
