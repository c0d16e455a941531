import ConvictionCore
import ConvictionScoring
import Foundation

/// `conviction score --text` / `--input`: scores texts for people and scripts and prints one result
/// per input text, in input order, as CSV or JSON lines.
public struct AdHocScoring {
    public enum Format: String, Sendable, CaseIterable { case csv, jsonl }

    public struct InputError: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let description: String
    }

    /// One text to score and where it came from.
    public struct Record: Sendable {
        public var text: String
        /// 1-based line (of the text's first line) in the input.
        public var line: Int
        public var invalidUTF8: Bool

        public init(text: String, line: Int, invalidUTF8: Bool) { self.text = text; self.line = line; self.invalidUTF8 = invalidUTF8 }
    }

    /// Reads texts: one per line, or from the `text` column of a CSV (RFC 4180 quoting, so texts
    /// may hold commas, quotes and newlines). `csv` nil = decide by the `.csv` extension.
    public static func read(_ data: Data, source: String, csv: Bool?) throws -> [Record] {
        let isCSV = csv ?? source.lowercased().hasSuffix(".csv")
        if !isCSV {
            var records: [Record] = []
            var line = 0
            for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                line += 1
                var bytes = Data(raw)
                if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
                if line > 1 || !bytes.isEmpty || data.count > 0 { records.append(decode(bytes, line: line)) }
            }
            if data.last == UInt8(ascii: "\n") { records.removeLast() }  // no record after the final newline
            return records
        }
        let rows = try CSVRows.parse(data, source: source)
        guard let header = rows.first else { throw InputError(description: "\(source):1: empty CSV, expected a header with a text column") }
        let names = header.fields.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased() }
        guard let column = names.firstIndex(of: "text") else {
            throw InputError(description: "\(source):1: the CSV header has no text column (columns: \(names.joined(separator: ", ")))")
        }
        return try rows.dropFirst().map { row in
            guard column < row.fields.count else {
                throw InputError(description: "\(source):\(row.line): \(row.fields.count) field(s), the text column is field \(column + 1)")
            }
            return decode(row.fields[column], line: row.line)
        }
    }

    static func decode(_ bytes: Data, line: Int) -> Record {
        if let text = String(data: bytes, encoding: .utf8) { return Record(text: text, line: line, invalidUTF8: false) }
        return Record(text: String(decoding: bytes, as: UTF8.self), line: line, invalidUTF8: true)
    }

    public static func header(_ format: Format) -> String? {
        format == .csv ? "line,label,confidence,positive,negative,neutral,scorer,note" : nil
    }

    /// Scores in chunks and hands each formatted line to `emit`, in input order.
    public static func score(_ records: [Record], chain: ScorerChain, format: Format, emit: (String) -> Void) {
        for start in stride(from: 0, to: records.count, by: 4096) {
            let chunk = Array(records[start..<min(start + 4096, records.count)])
            let (results, scorer) = chain.score(chunk.map(\.text))
            for (record, result) in zip(chunk, results) {
                let p = result.probabilities
                let (label, confidence) = [("negative", p.negative), ("neutral", p.neutral), ("positive", p.positive)].max { $0.1 < $1.1 }!
                let note = record.invalidUTF8 ? TextIssue.invalidUTF8.rawValue : result.issue?.rawValue ?? ""
                func number(_ x: Double) -> String { String(format: "%.6f", x) }
                switch format {
                case .csv:
                    emit([String(record.line), label, number(confidence), number(p.positive), number(p.negative), number(p.neutral), scorer.name, note]
                        .joined(separator: ","))
                case .jsonl:
                    let noteJSON = note.isEmpty ? "null" : "\"\(note)\""
                    emit("{\"line\":\(record.line),\"label\":\"\(label)\",\"confidence\":\(number(confidence)),\"positive\":\(number(p.positive)),"
                         + "\"negative\":\(number(p.negative)),\"neutral\":\(number(p.neutral)),\"scorer\":\"\(scorer.name)\",\"note\":\(noteJSON)}")
                }
            }
        }
    }
}

/// A small RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks.
enum CSVRows {
    struct Row { let line: Int; let fields: [Data] }

    static func parse(_ data: Data, source: String) throws -> [Row] {
        let bytes = [UInt8](data)
        var rows: [Row] = []
        var fields: [Data] = []
        var field = Data()
        var i = 0, line = 1, rowLine = 1
        var inQuotes = false, quotedField = false
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        func endRow() {
            fields.append(field); field = Data()
            if !(fields.count == 1 && fields[0].isEmpty && !quotedField) { rows.append(Row(line: rowLine, fields: fields)) }
            fields = []; quotedField = false
        }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == quote {
                    if i + 1 < bytes.count, bytes[i + 1] == quote { field.append(quote); i += 2; continue }
                    inQuotes = false
                } else {
                    if b == lf { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case quote where field.isEmpty:
                inQuotes = true; quotedField = true
            case comma:
                fields.append(field); field = Data()
            case lf:
                endRow(); line += 1; rowLine = line
            case cr where i + 1 < bytes.count && bytes[i + 1] == lf:
                break
            default:
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw AdHocScoring.InputError(description: "\(source):\(rowLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || quotedField { endRow() }
        return rows
    }
}
