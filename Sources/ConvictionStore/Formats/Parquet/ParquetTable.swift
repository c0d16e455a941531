import ConvictionCore
import Foundation

/// The values of one Parquet column, one case per supported type; nulls are marked in the array.
///
/// Equality treats NaN as equal to NaN, so a table holding NaN compares equal to its round trip.
public enum ParquetValues: Sendable, Equatable {
    case int64(ParquetArray<Int64>)
    case double(ParquetArray<Double>)
    case string(ParquetArray<String>)
    /// Microseconds since the Unix epoch, UTC.
    case timestamp(ParquetArray<Int64>)
    case bool(ParquetArray<Bool>)

    public static func int64(_ values: [Int64]) -> ParquetValues { .int64(ParquetArray(values)) }
    public static func int64(_ values: [Int64?]) -> ParquetValues { .int64(ParquetArray(optionals: values)) }
    public static func double(_ values: [Double]) -> ParquetValues { .double(ParquetArray(values)) }
    public static func double(_ values: [Double?]) -> ParquetValues { .double(ParquetArray(optionals: values)) }
    public static func string(_ values: [String]) -> ParquetValues { .string(ParquetArray(values)) }
    public static func string(_ values: [String?]) -> ParquetValues { .string(ParquetArray(optionals: values)) }
    public static func timestamp(_ values: [Int64]) -> ParquetValues { .timestamp(ParquetArray(values)) }
    public static func timestamp(_ values: [Int64?]) -> ParquetValues { .timestamp(ParquetArray(optionals: values)) }
    public static func bool(_ values: [Bool]) -> ParquetValues { .bool(ParquetArray(values)) }
    public static func bool(_ values: [Bool?]) -> ParquetValues { .bool(ParquetArray(optionals: values)) }

    /// The number of values, nulls included.
    public var count: Int {
        switch self {
        case .int64(let values), .timestamp(let values): values.count
        case .double(let values): values.count
        case .string(let values): values.count
        case .bool(let values): values.count
        }
    }

    /// The first null slot, if any.
    public var firstNullIndex: Int? {
        switch self {
        case .int64(let values), .timestamp(let values): values.firstNullIndex
        case .double(let values): values.firstNullIndex
        case .string(let values): values.firstNullIndex
        case .bool(let values): values.firstNullIndex
        }
    }
}

/// One named column of a flat Parquet table.
public struct ParquetColumn: Sendable, Equatable {
    public var name: String
    /// `false` writes the column as REQUIRED (no nulls allowed), `true` as OPTIONAL.
    public var nullable: Bool
    public var values: ParquetValues

    public init(name: String, nullable: Bool = true, values: ParquetValues) {
        self.name = name
        self.nullable = nullable
        self.values = values
    }
}

/// A flat (non-nested) table as stored in one Parquet file.
public struct ParquetTable: Sendable, Equatable {
    public var columns: [ParquetColumn]
    /// The file's key/value metadata (FileMetaData.key_value_metadata).
    public var keyValueMetadata: [String: String]

    public init(columns: [ParquetColumn], keyValueMetadata: [String: String] = [:]) {
        self.columns = columns
        self.keyValueMetadata = keyValueMetadata
    }

    /// The number of rows: the length of the first column, 0 when there are no columns.
    public var rowCount: Int { columns.first?.values.count ?? 0 }

    /// The first column with this name.
    public func column(_ name: String) -> ParquetColumn? { columns.first { $0.name == name } }
}

/// The page compression codec used by `ParquetWriter`.
public enum ParquetCompression: String, Sendable {
    case none, gzip
}

/// A Parquet file could not be written or read.
public struct ParquetError: ConvictionError {
    public var errorCode: ErrorCode { .badInput }
    /// The file name, or "<memory>".
    public let source: String
    /// What was wrong, and where (column, row group, byte offset when known).
    public let message: String
    public var description: String { "\(source): \(message)" }
}

/// Raised deep inside decoding, where the file name is unknown; the reader turns it into a `ParquetError`.
struct ParquetFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
