import Foundation

/// One column's chunks, each decoded on its own thread straight into the column's buffer: pages are
/// decompressed into per-thread scratch (or read in place when stored uncompressed), definition
/// levels mark the nulls, and PLAIN or dictionary values are written where their rows belong.
extension ParquetReader {
    final class TypedColumn<Plain: PlainDecoding>: @unchecked Sendable {
        typealias Value = Plain.Value
        let leaf: Leaf
        let dataEnd: Int
        /// nil when the memory for the rows could not be had; every chunk then fails.
        private let storage: ParquetArray<Value>.Storage?
        private let lock = NSLock()  // guards the null map's creation, the null count and `initialized`

        init(leaf: Leaf, rows: Int, dataEnd: Int) {
            self.leaf = leaf
            self.dataEnd = dataEnd
            storage = ParquetArray<Value>.Storage(capacity: rows)
        }

        func finish() -> ParquetArray<Value> {
            guard let storage else { preconditionFailure("finish() after a failed decode") }
            storage.initialized = [0..<storage.count]
            if storage.nullCount == 0, let nulls = storage.nulls {
                free(nulls)
                storage.nulls = nil
            }
            return ParquetArray(storage: storage)
        }

        private func nullMap(_ storage: ParquetArray<Value>.Storage) throws -> UnsafeMutablePointer<UInt8> {
            try lock.withLock {
                if let nulls = storage.nulls { return nulls }
                guard let memory = calloc(max(storage.count, 1), 1) else { throw ParquetFailure("cannot allocate the null map of column \(leaf.name)") }
                storage.nulls = memory.assumingMemoryBound(to: UInt8.self)
                return storage.nulls!
            }
        }

        func decode(_ plan: ChunkPlan, file: RawBytes, scratch: Scratch) throws {
            let place = "column \(leaf.name), row group \(plan.group)"
            guard let storage else { throw ParquetFailure("\(place): cannot allocate \(plan.firstRow + plan.rows)+ rows (corrupt row count?)") }
            let output = storage.values + plan.firstRow
            var written = 0, nulls = 0
            defer {
                // Strings are initialised as pages are written; record how far, for deinitialisation.
                if !_isPOD(Value.self) { lock.withLock { storage.initialized.append(plan.firstRow..<(plan.firstRow + written)) } }
                if nulls > 0 { lock.withLock { storage.nullCount += nulls } }
            }
            let chunk = plan.chunk
            guard chunk.string(1) == nil else { throw ParquetFailure("\(place): column data in another file is not supported") }
            guard let meta = chunk.structure(3), let dataOffset = meta.int(9), let codec = meta.int(4),
                  let total = meta.int(7), let valueCount = meta.int(5)
            else { throw ParquetFailure("\(place): column metadata missing") }
            guard [0, 1, 2, 6].contains(codec) else {
                throw ParquetFailure("unsupported compression codec \(label(Self.codecNames, codec)) in column \(leaf.name)")
            }
            // A dictionary page, when there is one, comes first.
            let start = min(dataOffset, meta.int(11) ?? dataOffset)
            guard start >= 4, total >= 0, start <= dataEnd, total <= dataEnd - start else {
                throw ParquetFailure("truncated: \(place) spans bytes \(start)..<\(start + total), data ends at \(dataEnd)")
            }
            var cursor = RawCursor(file.bytes, from: start, to: start + total)
            var dictionary: [Value]?
            var read = 0
            while read < valueCount {
                let pageStart = cursor.position
                do {
                    guard cursor.remaining > 0 else { throw ParquetFailure("chunk ends after \(read) of \(valueCount) values") }
                    var thrift = ThriftDecoder(file.bytes, from: cursor.position, to: cursor.end)
                    let header = try thrift.readStruct()
                    cursor.position = thrift.position
                    guard let type = header.int(1), let rawSize = header.int(2), let storedSize = header.int(3) else {
                        throw ParquetFailure("page header lacks type or sizes")
                    }
                    let body = try cursor.take(storedSize)
                    let stored = UnsafeRawBufferPointer(rebasing: file.bytes[body..<(body + storedSize)])
                    switch type {
                    case 2:
                        let count = header.structure(7)?.int(1) ?? 0
                        guard count >= 0, count <= rawSize else { throw ParquetFailure("bad dictionary size \(count)") }
                        var page = RawCursor(try scratch.decompress(codec, stored, size: rawSize))
                        dictionary = try [Value](unsafeUninitializedCapacity: count) { entries, initialized in
                            defer { initialized = count }  // PLAIN decoders initialise every slot, even when they fail
                            guard let base = entries.baseAddress else { return }  // no entries
                            try Plain.plain(&page, count: count, into: base, column: leaf.name)
                        }
                    case 0, 3:
                        let count: Int, encoding: Int
                        var levels: UnsafeBufferPointer<UInt32>?
                        var page: RawCursor
                        if type == 0 {
                            guard let info = header.structure(5), let c = info.int(1), let e = info.int(2) else {
                                throw ParquetFailure("data page header missing")
                            }
                            (count, encoding) = (c, e)
                            try checkRoom(count, written, plan.rows)
                            page = RawCursor(try scratch.decompress(codec, stored, size: rawSize))
                            if leaf.nullable {
                                guard info.int(3) == 3 else { throw ParquetFailure("definition levels must be RLE-encoded") }
                                let length = try page.uint32()
                                let levelStart = try page.take(length)
                                var levelCursor = RawCursor(page.bytes, from: levelStart, to: levelStart + length)
                                levels = try scratch.levels(&levelCursor, count: count)
                            }
                        } else {
                            guard let info = header.structure(8), let c = info.int(1), let e = info.int(4),
                                  let levelsLength = info.int(5), let repetitionLength = info.int(6)
                            else { throw ParquetFailure("data page v2 header missing") }
                            (count, encoding) = (c, e)
                            try checkRoom(count, written, plan.rows)
                            // v2 keeps levels outside the compressed part, without a length prefix.
                            guard repetitionLength >= 0, levelsLength >= 0, repetitionLength + levelsLength <= storedSize else {
                                throw ParquetFailure("level lengths exceed page size")
                            }
                            var levelCursor = RawCursor(stored, from: repetitionLength, to: repetitionLength + levelsLength)
                            if leaf.nullable && levelsLength > 0 { levels = try scratch.levels(&levelCursor, count: count) }
                            let valueBytes = UnsafeRawBufferPointer(rebasing: stored[(repetitionLength + levelsLength)...])
                            let compressed = header.structure(8)?.bool(7) != false && codec != 0
                            page = RawCursor(compressed ? try scratch.decompress(codec, valueBytes, size: rawSize - levelsLength - repetitionLength) : valueBytes)
                        }
                        // Every one of the page's slots is initialised when `values` returns or throws.
                        let slots = output + written
                        written += count
                        try values(&page, encoding: encoding, count: count, levels: levels, dictionary: dictionary, into: slots, scratch: scratch)
                        if let levels {
                            let nullMap = try nullMap(storage) + plan.firstRow + written - count
                            for i in 0..<count where levels[i] != 1 {
                                nullMap[i] = 1
                                nulls += 1
                            }
                        }
                        read += count
                    default:
                        continue  // index pages carry nothing we need
                    }
                } catch let failure as ParquetFailure {
                    throw ParquetFailure("\(place), page at byte \(pageStart): \(failure.message)")
                }
            }
            guard written == plan.rows else { throw ParquetFailure("\(place): read \(written) values for \(plan.rows) rows") }
            if case .timestamp(let multiply, let divide) = leaf.kind, multiply != 1 || divide != 1 {
                try Self.convertTimestamps(UnsafeMutableRawPointer(output).assumingMemoryBound(to: Int64.self), count: written, multiply: multiply, divide: divide)
            }
        }

        private func checkRoom(_ count: Int, _ written: Int, _ rows: Int) throws {
            guard count >= 0, count <= rows - written else {
                throw ParquetFailure("page holds \(count) values but only \(rows - written) of the row group's \(rows) rows remain")
            }
        }

        /// A page's `count` slots from its values: every slot present, or the present values first
        /// and then spread over the slots by the definition levels (nulls get the placeholder).
        /// The slots start uninitialised and are all initialised when this returns or throws.
        private func values(_ page: inout RawCursor, encoding: Int, count: Int, levels: UnsafeBufferPointer<UInt32>?,
                            dictionary: [Value]?, into slots: UnsafeMutablePointer<Value>, scratch: Scratch) throws {
            var present = count
            if let levels {
                present = 0
                for level in levels where level == 1 { present += 1 }
            }
            do {
                switch encoding {
                case 0:
                    try Plain.plain(&page, count: present, into: slots, column: leaf.name)
                case 2, 8:
                    guard let dictionary else { throw ParquetFailure("dictionary-encoded page without a dictionary page") }
                    let indices = try scratch.indices(&page, bitWidth: Int(try page.byte()), count: present)
                    var largest: UInt32 = 0
                    for index in indices { largest = max(largest, index) }
                    guard present == 0 || Int(largest) < dictionary.count else {
                        throw ParquetFailure("dictionary index \(largest) out of range (\(dictionary.count) entries)")
                    }
                    dictionary.withUnsafeBufferPointer { entries in
                        for i in 0..<present { (slots + i).initialize(to: entries[Int(indices[i])]) }
                    }
                case 3:
                    // RLE booleans (written by some v2 writers) carry a 4-byte length prefix.
                    _ = try page.uint32()
                    try Plain.rle(&page, count: present, into: slots, scratch: scratch, column: leaf.name)
                default:
                    throw ParquetFailure("unsupported encoding \(label(Self.encodingNames, encoding)) in column \(leaf.name)")
                }
            } catch {
                // A PLAIN decoder leaves its `present` slots initialised even when it fails; every
                // other path fails before writing. Fill the rest.
                if !_isPOD(Value.self) {
                    let filled = encoding == 0 ? present : 0
                    (slots + filled).initialize(repeating: Value.placeholder, count: count - filled)
                }
                throw error
            }
            guard let levels else { return }
            // Spread the present values from the back, moving each at most once, so none is
            // overwritten before it moves; a slot moved from is reached later and refilled.
            var next = present
            for i in stride(from: count - 1, through: 0, by: -1) {
                if levels[i] == 1 {
                    next -= 1
                    if next != i { (slots + i).moveInitialize(from: slots + next, count: 1) }
                } else {
                    (slots + i).initialize(to: Value.placeholder)
                }
            }
        }

        /// Milliseconds or nanoseconds to microseconds; floor division keeps instants before 1970 on
        /// the earlier microsecond.
        private static func convertTimestamps(_ values: UnsafeMutablePointer<Int64>, count: Int, multiply: Int64, divide: Int64) throws {
            for i in 0..<count {
                let (product, overflow) = values[i].multipliedReportingOverflow(by: multiply)
                guard !overflow else { throw ParquetFailure("timestamp \(values[i]) overflows microseconds") }
                values[i] = product >= 0 || divide == 1 ? product / divide : (product - divide + 1) / divide
            }
        }

        static var codecNames: [String] { ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"] }
        static var encodingNames: [String] {
            ["PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
             "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"]
        }

        private func label(_ names: [String], _ code: Int) -> String { names.indices.contains(code) ? names[code] : "#\(code)" }
    }
}
