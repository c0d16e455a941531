import Foundation

/// A type a Parquet column can hold, with the value that stands in a null's slot.
public protocol ParquetValue: Sendable, Equatable {
    /// What a null's slot holds in `ParquetArray.values` (0, 0.0, "", false).
    static var placeholder: Self { get }
    /// Equality for comparing tables: Double counts NaN equal to NaN, so a table holding NaN
    /// compares equal to its round trip.
    static func matches(_ a: Self, _ b: Self) -> Bool
}

extension ParquetValue {
    public static func matches(_ a: Self, _ b: Self) -> Bool { a == b }
}

extension Int64: ParquetValue { public static var placeholder: Int64 { 0 } }
extension String: ParquetValue { public static var placeholder: String { "" } }
extension Bool: ParquetValue { public static var placeholder: Bool { false } }
extension Double: ParquetValue {
    public static var placeholder: Double { 0 }
    public static func matches(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
}

/// One column's values in Arrow's layout: every slot's value in one contiguous buffer (a placeholder
/// at a null) and the nulls marked apart, only when there are any. A reader fills the buffer in
/// place from many threads, and a column without nulls costs 8 bytes a row rather than the 16 of an
/// array of optionals.
///
/// As a collection its elements are optionals (`nil` at a null); `values` and `withUnsafeValues`
/// give the plain values for loops that know there are no nulls. Immutable once built.
public struct ParquetArray<Value: ParquetValue>: Sendable, RandomAccessCollection, ExpressibleByArrayLiteral, Equatable {
    // Inlinable down to the storage, so element access from other modules is specialised rather
    // than generic (which made a 5M-row loop several times slower).
    @usableFromInline
    final class Storage: @unchecked Sendable {  // written only before the array that owns it is made
        @usableFromInline let values: UnsafeMutablePointer<Value>
        @usableFromInline let count: Int
        /// 1 at a null slot; nil when no slot is null.
        @usableFromInline var nulls: UnsafeMutablePointer<UInt8>?
        var nullCount = 0
        /// The slots initialised so far, which are the ones to deinitialise; all of them once built.
        /// (A reader that fails part-way leaves gaps.) Not tracked for trivial values.
        var initialized: [Range<Int>] = []

        /// Room for `count` values, none initialised; nil when the memory cannot be had (a corrupt
        /// row count). Pages are committed only as they are written.
        init?(capacity count: Int) {
            let (bytes, overflow) = MemoryLayout<Value>.stride.multipliedReportingOverflow(by: Swift.max(count, 1))
            guard count >= 0, !overflow, let memory = Self.allocate(bytes) else { return nil }
            self.count = count
            values = memory.bindMemory(to: Value.self, capacity: Swift.max(count, 1))
        }

        /// Large buffers are aligned to 2 MiB and asked to be backed by huge pages: a fresh column is
        /// then faulted in 512 times less often (faults were over a third of a large read).
        private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
            let huge = 2 << 20
            guard bytes >= 2 * huge else { return malloc(bytes) }
            var memory: UnsafeMutableRawPointer?
            guard posix_memalign(&memory, huge, bytes) == 0, let memory else { return nil }
            _ = madvise(memory, bytes, MADV_HUGEPAGE)  // advice only: without it, ordinary pages
            return memory
        }

        deinit {
            if !_isPOD(Value.self) {
                for range in initialized { (values + range.lowerBound).deinitialize(count: range.count) }
            }
            free(values)
            nulls.map { free($0) }
        }
    }

    @usableFromInline let storage: Storage

    init(storage: Storage) { self.storage = storage }

    /// Every slot present.
    public init(_ values: some Collection<Value>) {
        guard let storage = Storage(capacity: values.count) else { fatalError("cannot allocate \(values.count) values") }
        let written = UnsafeMutableBufferPointer(start: storage.values, count: storage.count).initialize(fromContentsOf: values)
        storage.initialized = [0..<written]
        self.storage = storage
    }

    /// `nil` marks a null.
    public init(optionals: some Collection<Value?>) {
        guard let storage = Storage(capacity: optionals.count) else { fatalError("cannot allocate \(optionals.count) values") }
        var nulls = 0
        for (i, value) in optionals.enumerated() {
            (storage.values + i).initialize(to: value ?? Value.placeholder)
            if value == nil {
                if storage.nulls == nil { storage.nulls = calloc(Swift.max(storage.count, 1), 1)?.assumingMemoryBound(to: UInt8.self) }
                storage.nulls?[i] = 1
                nulls += 1
            }
        }
        storage.initialized = [0..<storage.count]
        storage.nullCount = nulls
        self.storage = storage
    }

    public init(arrayLiteral elements: Value?...) { self.init(optionals: elements) }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { storage.count }

    @inlinable public subscript(position: Int) -> Value? {
        precondition(position >= 0 && position < storage.count, "ParquetArray index \(position) out of range 0..<\(storage.count)")
        if let nulls = storage.nulls, nulls[position] != 0 { return nil }
        return storage.values[position]
    }

    /// The number of null slots.
    public var nullCount: Int { storage.nullCount }

    /// Whether slot `position` is null.
    @inlinable public func isNull(_ position: Int) -> Bool {
        precondition(position >= 0 && position < storage.count, "ParquetArray index \(position) out of range 0..<\(storage.count)")
        return storage.nulls.map { $0[position] != 0 } ?? false
    }

    /// The first null slot, if any.
    public var firstNullIndex: Int? {
        guard let nulls = storage.nulls else { return nil }
        return (0..<storage.count).first { nulls[$0] != 0 }
    }

    /// Every slot's value, the placeholder at a null (a copy).
    public var values: [Value] { Array(UnsafeBufferPointer(start: storage.values, count: storage.count)) }

    /// The values in place, the placeholder at a null; the buffer is valid only inside `body`.
    @inlinable public func withUnsafeValues<R>(_ body: (UnsafeBufferPointer<Value>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: storage.values, count: storage.count)) }
    }

    public static func == (lhs: ParquetArray, rhs: ParquetArray) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for i in 0..<lhs.count {
            switch (lhs[i], rhs[i]) {
            case (nil, nil): continue
            case let (a?, b?) where Value.matches(a, b): continue
            default: return false
            }
        }
        return true
    }
}

extension ParquetArray: CustomStringConvertible {
    public var description: String { "[" + map { $0.map { "\($0)" } ?? "nil" }.joined(separator: ", ") + "]" }
}
