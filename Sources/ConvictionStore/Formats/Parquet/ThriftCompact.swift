import Foundation

/// Type codes of the Thrift compact protocol, as used in field headers and list headers.
enum ThriftType: UInt8 {
    case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6
    case double = 7, binary = 8, list = 9, set = 10, map = 11, structure = 12
}

/// A Thrift value. Decoded structs keep every field, known or not, so Parquet code picks the fields
/// it understands and newer writers' additions are skipped for free.
indirect enum ThriftValue: Sendable {
    case bool(Bool), i8(Int8), i16(Int16), i32(Int32), i64(Int64), double(Double), binary([UInt8])
    case list(ThriftType, [ThriftValue])
    case map(ThriftType, ThriftType, [(ThriftValue, ThriftValue)])
    case structure(ThriftStruct)

    static func string(_ text: String) -> ThriftValue { .binary(Array(text.utf8)) }
    static func int32(_ value: Int) -> ThriftValue { .i32(Int32(truncatingIfNeeded: value)) }
    static func int64(_ value: Int) -> ThriftValue { .i64(Int64(value)) }

    var type: ThriftType {
        switch self {
        case .bool: .boolTrue
        case .i8: .byte
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        case .double: .double
        case .binary: .binary
        case .list: .list
        case .map: .map
        case .structure: .structure
        }
    }
}

/// A Thrift struct: its fields in id order, with typed accessors that return nil when absent.
struct ThriftStruct: Sendable {
    var fields: [(id: Int16, value: ThriftValue)] = []

    /// Absent (nil) optional fields are dropped, so writers can list every field they might set.
    init(_ fields: [(Int16, ThriftValue?)] = []) {
        for (id, value) in fields { if let value { self.fields.append((id, value)) } }
    }

    subscript(id: Int16) -> ThriftValue? { fields.first { $0.id == id }?.value }

    func int(_ id: Int16) -> Int? {
        switch self[id] {
        case .i8(let v): Int(v)
        case .i16(let v): Int(v)
        case .i32(let v): Int(v)
        case .i64(let v): Int(v)
        default: nil
        }
    }

    func bool(_ id: Int16) -> Bool? { if case .bool(let v) = self[id] { v } else { nil } }
    func binary(_ id: Int16) -> [UInt8]? { if case .binary(let v) = self[id] { v } else { nil } }
    func string(_ id: Int16) -> String? { binary(id).map { String(decoding: $0, as: UTF8.self) } }
    func structure(_ id: Int16) -> ThriftStruct? { if case .structure(let v) = self[id] { v } else { nil } }
    func list(_ id: Int16) -> [ThriftValue]? { if case .list(_, let v) = self[id] { v } else { nil } }

    /// A list of structs; non-struct elements are dropped.
    func structs(_ id: Int16) -> [ThriftStruct]? {
        list(id)?.compactMap { if case .structure(let s) = $0 { s } else { nil } }
    }
}

/// Serializes values with the Thrift compact protocol.
struct ThriftEncoder {
    private(set) var bytes: [UInt8] = []

    static func encode(_ value: ThriftStruct) -> [UInt8] {
        var encoder = ThriftEncoder()
        encoder.write(value)
        return encoder.bytes
    }

    private mutating func write(_ value: ThriftStruct) {
        var lastID: Int16 = 0
        for (id, field) in value.fields.sorted(by: { $0.id < $1.id }) {
            // Booleans live in the field header's type nibble and have no body.
            let type: UInt8 = if case .bool(let b) = field { b ? 1 : 2 } else { field.type.rawValue }
            let delta = Int(id) - Int(lastID)
            if delta > 0 && delta <= 15 {
                bytes.append(UInt8(delta) << 4 | type)
            } else {
                bytes.append(type)
                writeVarint(zigzag(Int64(id)))
            }
            lastID = id
            if case .bool = field { continue }
            write(field)
        }
        bytes.append(ThriftType.stop.rawValue)
    }

    private mutating func write(_ value: ThriftValue) {
        switch value {
        case .bool(let v): bytes.append(v ? 1 : 2)
        case .i8(let v): bytes.append(UInt8(bitPattern: v))
        case .i16(let v): writeVarint(zigzag(Int64(v)))
        case .i32(let v): writeVarint(zigzag(Int64(v)))
        case .i64(let v): writeVarint(zigzag(v))
        case .double(let v): withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        case .binary(let v):
            writeVarint(UInt64(v.count))
            bytes.append(contentsOf: v)
        case .list(let type, let elements):
            if elements.count < 15 {
                bytes.append(UInt8(elements.count) << 4 | type.rawValue)
            } else {
                bytes.append(0xF0 | type.rawValue)
                writeVarint(UInt64(elements.count))
            }
            for element in elements { write(element) }
        case .map(let keyType, let valueType, let pairs):
            writeVarint(UInt64(pairs.count))
            if !pairs.isEmpty { bytes.append(keyType.rawValue << 4 | valueType.rawValue) }
            for (key, value) in pairs {
                write(key)
                write(value)
            }
        case .structure(let s): write(s)
        }
    }

    private func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    private mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}

/// Parses Thrift compact-protocol structs from a byte range, keeping unknown fields. The bytes are
/// borrowed (a file's mapped or loaded bytes): the decoder lives only inside their scope.
struct ThriftDecoder {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    mutating func readStruct(depth: Int = 0) throws -> ThriftStruct {
        // Real Parquet metadata nests a handful of levels; a bound stops stack overflows on garbage.
        guard depth < 64 else { throw ParquetFailure("thrift structs nested too deeply at byte \(position)") }
        var result = ThriftStruct()
        var lastID: Int16 = 0
        while true {
            let header = try readByte()
            if header == 0 { return result }
            guard let type = ThriftType(rawValue: header & 0x0F) else {
                throw ParquetFailure("bad thrift field type \(header & 0x0F) at byte \(position - 1)")
            }
            let delta = Int16(header >> 4)
            let id = delta != 0 ? lastID &+ delta : Int16(truncatingIfNeeded: try readZigzag())
            lastID = id
            let value: ThriftValue = switch type {
            case .boolTrue: .bool(true)
            case .boolFalse: .bool(false)
            default: try readValue(type, depth: depth)
            }
            result.fields.append((id, value))
        }
    }

    private mutating func readValue(_ type: ThriftType, depth: Int) throws -> ThriftValue {
        switch type {
        case .stop: throw ParquetFailure("unexpected thrift stop at byte \(position)")
        case .boolTrue, .boolFalse: return .bool(try readByte() == 1)
        case .byte: return .i8(Int8(bitPattern: try readByte()))
        case .i16: return .i16(Int16(truncatingIfNeeded: try readZigzag()))
        case .i32: return .i32(Int32(truncatingIfNeeded: try readZigzag()))
        case .i64: return .i64(try readZigzag())
        case .double:
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(try readByte()) << (8 * i) }
            return .double(Double(bitPattern: bits))
        case .binary:
            let count = try readCount()
            let start = position
            position += count
            return .binary(Array(UnsafeRawBufferPointer(rebasing: bytes[start..<position])))
        case .list, .set:
            let header = try readByte()
            let count = header >> 4 == 15 ? try readCount() : Int(header >> 4)
            guard let elementType = ThriftType(rawValue: header & 0x0F) else {
                throw ParquetFailure("bad thrift list element type at byte \(position - 1)")
            }
            var elements: [ThriftValue] = []
            for _ in 0..<count { elements.append(try readValue(elementType, depth: depth + 1)) }
            return .list(elementType, elements)
        case .map:
            let count = try readCount()
            guard count > 0 else { return .map(.stop, .stop, []) }
            let types = try readByte()
            guard let keyType = ThriftType(rawValue: types >> 4), let valueType = ThriftType(rawValue: types & 0x0F) else {
                throw ParquetFailure("bad thrift map types at byte \(position - 1)")
            }
            var pairs: [(ThriftValue, ThriftValue)] = []
            for _ in 0..<count {
                pairs.append((try readValue(keyType, depth: depth + 1), try readValue(valueType, depth: depth + 1)))
            }
            return .map(keyType, valueType, pairs)
        case .structure: return .structure(try readStruct(depth: depth + 1))
        }
    }

    private mutating func readByte() throws -> UInt8 {
        guard position < end else { throw ParquetFailure("thrift data ends early at byte \(position)") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            let byte = try readByte()
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
        }
        throw ParquetFailure("thrift varint too long at byte \(position)")
    }

    private mutating func readZigzag() throws -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// A length or element count; every element takes at least one byte, so it cannot exceed what is left.
    private mutating func readCount() throws -> Int {
        let raw = try readVarint()
        guard raw <= UInt64(end - position) else {
            throw ParquetFailure("thrift length \(raw) at byte \(position) runs past the end of its data")
        }
        return Int(raw)
    }
}
