/// A piece of HTML. Built by interpolation, where every `String` is escaped and only `HTML` goes
/// in as it is: a page cannot render a value unescaped by forgetting to escape it.
///
///     let row: HTML = "<td>\(resource.id)</td>"   // the id escaped
///     let page: HTML = "<tbody>\(rows)</tbody>"   // rows: [HTML], joined as they are
public struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var text: String

    /// Markup known to be safe as it is (a constant, or HTML built here).
    public init(raw: String) { text = raw }

    public init(stringLiteral value: String) { text = value }

    public init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    public var description: String { text }

    public static let empty = HTML(raw: "")

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + 16 * interpolationCount) }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Text: escaped.
        public mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }

        public mutating func appendInterpolation(_ value: Substring) { text += HTML.escape(String(value)) }

        public mutating func appendInterpolation<Number: BinaryInteger>(_ value: Number) { text += String(value) }

        /// HTML: as it is.
        public mutating func appendInterpolation(_ html: HTML) { text += html.text }

        /// Pieces of HTML, one after the other.
        public mutating func appendInterpolation(_ pieces: [HTML]) { for piece in pieces { text += piece.text } }

        /// Nothing when nil.
        public mutating func appendInterpolation(_ html: HTML?) { text += html?.text ?? "" }
    }

    /// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in a quoted attribute.
    public static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { [0x26, 0x3C, 0x3E, 0x22, 0x27].contains($0) }) else { return value }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count + 16)
        for character in value.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// The pieces joined with `separator` between them.
    public static func join(_ pieces: [HTML], separator: HTML = .empty) -> HTML {
        HTML(raw: pieces.map(\.text).joined(separator: separator.text))
    }
}
