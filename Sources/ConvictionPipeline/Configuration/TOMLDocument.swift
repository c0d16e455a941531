import ConvictionCore
import TOMLKit

/// A configuration file read with TOMLKit (toml++, the whole of TOML 1.0), flattened to dotted
/// keys (`training.folds`) that each remember their line, so a bad value is reported as
/// `conviction.toml:12: training.folds: ...`. TOMLKit gives no positions for values, so
/// `KeyLines` finds each key's line in the text; TOMLKit's own parse errors carry their line.
public struct TOMLDocument: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String), integer(Int), float(Double), bool(Bool), array([Value])
    }

    public struct Entry: Sendable {
        public let value: Value
        public let line: Int
    }

    /// Dotted keys in file order.
    public private(set) var entries: [(key: String, entry: Entry)] = []

    public struct ParseError: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let file: String
        public let line: Int
        public let message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public init(parsing text: String, file: String) throws(ParseError) {
        let lines = KeyLines(text)
        // Files written by `conviction config init` before 0.9 open `[scoring]` twice, which TOML
        // forbids; such a file is read with each table's parts brought together (lines kept).
        let (merged, originalLine) = lines.mergingRepeatedTables(text)
        let table: TOMLTable
        do { table = try TOMLTable(string: merged) } catch let error as TOMLParseError {
            let line = originalLine(error.source.begin.line)
            throw ParseError(file: file, line: line, message: lines.explain(error.description, line: line))
        } catch {
            throw ParseError(file: file, line: 1, message: "\(error)")
        }
        var flat: [(String, Value)] = []
        do { try Self.flatten(table, prefix: "", into: &flat) } catch {
            throw ParseError(file: file, line: lines.line(of: error.key) ?? 1, message: "\(error.key): \(error.message)")
        }
        entries = flat.map { ($0.0, Entry(value: $0.1, line: lines.line(of: $0.0) ?? 1)) }.sorted { $0.entry.line < $1.entry.line }
    }

    /// One value as a user types it after `key =` (an environment variable, a flag); nil when it
    /// is not a TOML value.
    static func value(parsing text: String) -> Value? {
        guard !text.contains("\n"), let table = try? TOMLTable(string: "v = " + text), let v = table["v"] else { return nil }
        return try? value(v, key: "v")
    }

    struct FlattenError: Error { let key: String; let message: String }

    static func flatten(_ table: TOMLTable, prefix: String, into out: inout [(String, Value)]) throws(FlattenError) {
        for (name, item) in table {
            let key = prefix.isEmpty ? name : prefix + "." + name
            if let inner = item.table {
                try flatten(inner, prefix: key, into: &out)
            } else {
                out.append((key, try value(item, key: key)))
            }
        }
    }

    static func value(_ item: any TOMLValueConvertible, key: String) throws(FlattenError) -> Value {
        switch item.type {
        case .string: return .string(item.string ?? "")
        case .int: return .integer(item.int ?? 0)
        case .double: return .float(item.double ?? 0)
        case .bool: return .bool(item.bool ?? false)
        // A bare TOML date (`test_start = 2015-10-01`) reads as the same text in quotes.
        case .date:
            let d = item.date!
            return .string(CivilDate(year: d.year, month: d.month, day: d.day).isoString)
        case .array:
            var items: [Value] = []
            for element in item.array! { items.append(try value(element, key: key)) }
            return .array(items)
        case .table: throw FlattenError(key: key, message: "an inline table is not a value here")
        case .time, .dateTime: throw FlattenError(key: key, message: "a time is not a value here (dates are written YYYY-MM-DD)")
        }
    }
}
