import Yams

/// Small helpers to build YAML documents as data, so generated configuration is never string-templated.
enum YAML {
    /// A string scalar, quoted when plain text would read back as a number, a boolean or null.
    static func string(_ text: String) -> Node {
        let plain = Resolver.default.resolveTag(of: Node(text))
        return Node(text, Tag(.str), plain == .str ? .any : .doubleQuoted)
    }
    static func int(_ number: Int) -> Node { Node(String(number), Tag(.int)) }
    static func bool(_ flag: Bool) -> Node { Node(flag ? "true" : "false", Tag(.bool)) }
    static func list(_ items: [Node]) -> Node { Node(items) }
    static func strings(_ items: [String]) -> Node { Node(items.map(string)) }
    static func map(_ pairs: [(String, Node)]) -> Node { Node(pairs.map { (string($0.0), $0.1) }) }

    /// Serialises with sorted keys, so output is byte-identical on every run.
    static func document(_ node: Node, comment: String) -> String {
        let body = (try? Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true, sortKeys: true)) ?? ""
        return "# \(comment)\n" + body
    }
}
