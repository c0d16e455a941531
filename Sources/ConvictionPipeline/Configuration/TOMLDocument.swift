import ConvictionCore
/// The subset of TOML that Conviction's configuration uses: `[table]` headers, `key = value` with
/// strings, integers, floats, booleans and one-line arrays of those, and `#` comments. Every value
/// remembers its line, so a bad one can be reported as `conviction.toml:12: training.folds: ...`.
public struct TOMLDocument: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String), integer(Int), float(Double), bool(Bool), array([Value])
    }

    public struct Entry: Sendable {
        public let value: Value
        public let line: Int
    }

    /// Dotted keys (`training.folds`) in file order.
    public private(set) var entries: [(key: String, entry: Entry)] = []

    public struct ParseError: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let file: String
        public let line: Int
        public let message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public init(parsing text: String, file: String) throws(ParseError) {
        var table = ""
        var seen: Set<String> = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = Self.stripComment(String(rawLine)).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), !line.hasPrefix("[[") else {
                    throw ParseError(file: file, line: number, message: "malformed table header \(line)")
                }
                table = String(line.dropFirst().dropLast()).trimmingWhitespace()
                guard !table.isEmpty, table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else {
                    throw ParseError(file: file, line: number, message: "invalid table name [\(table)]")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(file: file, line: number, message: "expected `key = value`, got \(line)")
            }
            let key = String(line[..<equals]).trimmingWhitespace()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ParseError(file: file, line: number, message: "invalid key \(key.debugDescription)")
            }
            let fullKey = table.isEmpty ? key : table + "." + key
            guard seen.insert(fullKey).inserted else {
                throw ParseError(file: file, line: number, message: "\(fullKey): defined twice")
            }
            var rest = Substring(String(line[line.index(after: equals)...]).trimmingWhitespace())
            let value: Value
            do { value = try Self.parseValue(&rest) } catch {
                throw ParseError(file: file, line: number, message: "\(fullKey): \(error.message)")
            }
            guard String(rest).trimmingWhitespace().isEmpty else {
                throw ParseError(file: file, line: number, message: "\(fullKey): unexpected text after the value: \(rest)")
            }
            entries.append((fullKey, Entry(value: value, line: number)))
        }
    }

    struct ValueError: Error { let message: String }

    static func parseValue(_ s: inout Substring) throws(ValueError) -> Value {
        s = Substring(String(s).trimmingWhitespace())
        guard let first = s.first else { throw ValueError(message: "missing value") }
        if first == "\"" {
            s.removeFirst()
            var out = ""
            while let c = s.first {
                s.removeFirst()
                if c == "\"" { return .string(out) }
                if c == "\\" {
                    guard let e = s.first else { break }
                    s.removeFirst()
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    default: throw ValueError(message: "unsupported escape \\\(e)")
                    }
                } else { out.append(c) }
            }
            throw ValueError(message: "unterminated string")
        }
        if first == "[" {
            s.removeFirst()
            var items: [Value] = []
            while true {
                s = Substring(String(s).trimmingWhitespace())
                if s.first == "]" { s.removeFirst(); return .array(items) }
                items.append(try parseValue(&s))
                s = Substring(String(s).trimmingWhitespace())
                if s.first == "," { s.removeFirst(); continue }
                if s.first == "]" { s.removeFirst(); return .array(items) }
                throw ValueError(message: "expected , or ] in array")
            }
        }
        let token = String(s.prefix { $0 != "," && $0 != "]" && $0 != " " && $0 != "\t" })
        s = s.dropFirst(token.count)
        if token == "true" { return .bool(true) }
        if token == "false" { return .bool(false) }
        let digits = token.replacingUnderscores()
        if let i = Int(digits) { return .integer(i) }
        if let d = Double(digits), digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float(d) }
        throw ValueError(message: "cannot read value \(token.debugDescription) (strings need double quotes)")
    }

    static func stripComment(_ line: String) -> String {
        var inString = false
        var escaped = false
        for (i, c) in zip(line.indices, line) {
            if escaped { escaped = false; continue }
            if c == "\\" && inString { escaped = true; continue }
            if c == "\"" { inString.toggle() }
            if c == "#" && !inString { return String(line[..<i]) }
        }
        return line
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }

    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
