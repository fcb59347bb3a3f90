import Foundation

/// Compose-style variable interpolation: `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `$NAME`
/// and `$$` for a literal `$`. Values are inserted verbatim (no shell, no sed), so `|`, `&`, `\` and
/// quotes are safe. Inserted text has its `$` doubled, because `docker stack deploy` interpolates the
/// file once more: a password containing `$x` must reach the container as typed.
struct ComposeInterpolation {
    let variables: [String: String]
    /// Names referenced without a value or a default.
    private(set) var unresolved: [String] = []

    init(variables: [String: String]) { self.variables = variables }

    mutating func interpolate(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else {
                result.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else {
                result.append("$")
                break
            }
            if text[next] == "$" {
                result.append("$$")  // keep the escape: docker stack deploy resolves it to one $
                index = text.index(after: next)
            } else if text[next] == "{", let close = text[next...].firstIndex(of: "}") {
                let body = String(text[text.index(after: next)..<close])
                result += expand(body) ?? "${\(body)}"
                index = text.index(after: close)
            } else {
                var end = next
                while end < text.endIndex, text[end] == "_" || text[end].isASCII && (text[end].isLetter || text[end].isNumber) { end = text.index(after: end) }
                let name = String(text[next..<end])
                if TextRules.isVariableName(name) {
                    result += expand(name) ?? "$\(name)"
                    index = end
                } else {
                    result.append("$")
                    index = next
                }
            }
        }
        return result
    }

    static func escaped(_ value: String) -> String { value.replacingOccurrences(of: "$", with: "$$") }

    private mutating func expand(_ body: String) -> String? {
        var name = body
        var fallback: String?
        var emptyCounts = false
        if let range = body.range(of: ":-") {
            name = String(body[..<range.lowerBound])
            fallback = String(body[range.upperBound...])
            emptyCounts = true
        } else if let dash = body.firstIndex(of: "-") {
            name = String(body[..<dash])
            fallback = String(body[body.index(after: dash)...])
        }
        guard TextRules.isVariableName(name) else { return nil }
        if let value = variables[name], !(emptyCounts && value.isEmpty) { return Self.escaped(value) }
        if let fallback { return Self.escaped(fallback) }
        unresolved.append(name)
        return nil
    }
}
