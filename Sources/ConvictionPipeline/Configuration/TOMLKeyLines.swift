import Foundation
/// Where each key and table header of a TOML text sits, for error messages: TOMLKit parses, and
/// this scan only points at lines. It follows `[table]` headers, `key =` lines (dotted and quoted
/// keys included) and skips comments and multi-line strings.
struct KeyLines {
    /// Full dotted key → its first line (1-based); table headers included.
    private var lines: [String: Int] = [:]
    /// The table headers in file order, with their lines.
    private(set) var headers: [(table: String, line: Int)] = []
    /// The dotted key defined on each line, if any.
    private var keyOnLine: [Int: String] = [:]
    private var textOnLine: [Int: String] = [:]

    init(_ text: String) {
        var table = ""
        var inMultiline: String?
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = Self.stripComment(String(raw)).trimmingCharacters(in: .whitespaces)
            textOnLine[number] = line
            if let quote = inMultiline {
                if line.contains(quote) { inMultiline = nil }
                continue
            }
            if line.hasPrefix("[") {
                let inner = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                table = Self.normalize(inner)
                headers.append((table, number))
                if lines[table] == nil { lines[table] = number }
                continue
            }
            guard let equals = Self.equalsOutsideQuotes(line) else { continue }
            let key = Self.normalize(String(line[..<equals]))
            let full = table.isEmpty ? key : table + "." + key
            keyOnLine[number] = full
            if lines[full] == nil { lines[full] = number }
            for quote in ["\"\"\"", "'''"] {
                let rest = line[line.index(after: equals)...]
                if rest.components(separatedBy: quote).count == 2 { inMultiline = quote }
            }
        }
    }

    /// The line of `key`, or of the nearest enclosing table or key that is known.
    func line(of key: String) -> Int? {
        var parts = key.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            if let line = lines[parts.joined(separator: ".")] { return line }
            parts.removeLast()
        }
        return nil
    }

    /// TOMLKit's message for an error at `line`, with the key defined there and a hint for the
    /// commonest slip, a string without quotes.
    func explain(_ message: String, line: Int) -> String {
        guard let key = keyOnLine[line] else { return message }
        let text = textOnLine[line] ?? ""
        let value = text.split(separator: "=", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let bareWord = value.first.map { $0.isLetter } ?? false && !["true", "false", "inf", "nan"].contains(value)
        return "\(key): \(message)" + (bareWord ? " (strings need double quotes: \(key.split(separator: ".").last!) = \"\(value)\")" : "")
    }

    /// The text with every table's parts together, when a table header repeats, and a map from
    /// the new text's lines back to the file's. Unchanged when no header repeats.
    func mergingRepeatedTables(_ text: String) -> (String, (Int) -> Int) {
        guard Set(headers.map(\.table)).count < headers.count else { return (text, { $0 }) }
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var order: [String] = []
        var blocks: [String: [Int]] = [:]  // table → its lines (0-based), header first
        let preambleEnd = (headers.first?.line ?? all.count + 1) - 1
        for (index, header) in headers.enumerated() {
            let end = index + 1 < headers.count ? headers[index + 1].line - 1 : all.count
            let body = Array(header.line..<end)  // 0-based indices of the lines after the header
            if blocks[header.table] == nil { order.append(header.table); blocks[header.table] = [header.line - 1] + body }
            else { blocks[header.table]! += body }
        }
        let indices = Array(0..<preambleEnd) + order.flatMap { blocks[$0]! }
        let merged = indices.map { all[$0] }.joined(separator: "\n")
        return (merged, { line in line >= 1 && line <= indices.count ? indices[line - 1] + 1 : line })
    }

    static func normalize(_ key: String) -> String {
        key.split(separator: ".").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")) }.joined(separator: ".")
    }

    static func equalsOutsideQuotes(_ line: String) -> String.Index? {
        var quote: Character?
        for (i, c) in zip(line.indices, line) {
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "=" { return i }
        }
        return nil
    }

    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var escaped = false
        for (i, c) in zip(line.indices, line) {
            if escaped { escaped = false; continue }
            if c == "\\" && quote == "\"" { escaped = true; continue }
            if let q = quote { if c == q { quote = nil } } else if c == "\"" || c == "'" { quote = c } else if c == "#" { return String(line[..<i]) }
        }
        return line
    }
}
