import Yams

/// Small helpers to build YAML documents as data, so generated configuration is never string-templated.
enum YAML {
    // Shared tags: `Tag(.str)` builds a fresh Yams `Constructor` (three dictionaries) every time, and a
    // tag with an explicit name is never re-resolved, so one instance of each serves every node.
    nonisolated(unsafe) static let stringTag = Tag(.str)
    nonisolated(unsafe) static let intTag = Tag(.int)
    nonisolated(unsafe) static let boolTag = Tag(.bool)
    nonisolated(unsafe) static let mapTag = Tag(.map)
    nonisolated(unsafe) static let sequenceTag = Tag(.seq)

    /// A string scalar, quoted when plain text would read back as a number, a boolean or null.
    static func string(_ text: String) -> Node {
        Node(text, stringTag, mayResolveToNonString(text) && Resolver.default.resolveTag(of: Node(text)) != .str ? .doubleQuoted : .any)
    }
    static func int(_ number: Int) -> Node { Node(String(number), intTag) }
    static func bool(_ flag: Bool) -> Node { Node(flag ? "true" : "false", boolTag) }
    static func list(_ items: [Node]) -> Node { Node(items, sequenceTag) }
    static func strings(_ items: [String]) -> Node { Node(items.map(string), sequenceTag) }

    /// A mapping with its keys in sorted order, so output is byte-identical on every run. (Yams'
    /// own `sortKeys` looks every key up again by a linear scan: quadratic in the mapping's size.)
    static func map(_ pairs: [(String, Node)]) -> Node {
        Node(pairs.sorted { $0.0 < $1.0 }.map { (string($0.0), $0.1) }, mapTag)
    }

    static func document(_ node: Node, comment: String) -> String {
        let body = (try? Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)) ?? ""
        return "# \(comment)\n" + body
    }

    /// Whether YAML 1.1's implicit rules (Yams' default resolver) could read `text` as something
    /// other than a string. The non-numeric forms are a fixed set of words; every number and timestamp
    /// starts with a digit, a sign or a dot, and only those ask Yams' regular expressions (which
    /// dominated rendering time when every string went through them).
    static func mayResolveToNonString(_ text: String) -> Bool {
        guard let first = text.utf8.first else { return true }
        if (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
            || first == UInt8(ascii: ".")
        {
            return true
        }
        return text.utf8.count <= 5 && nonStringWords.contains(text)
    }

    private static let nonStringWords: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        "~", "null", "Null", "NULL", "<<", "=",
    ]
}
