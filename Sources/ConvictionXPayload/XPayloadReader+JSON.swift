import ConvictionCore
import Foundation

/// The JSON scanner under the parser: it reads values in place from the line's bytes, without
/// building a document, and names the path of anything it cannot read.
extension XPayloadReader {
    // MARK: - JSON

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func peek() throws(Failure) -> UInt8 {
        skipWhitespace()
        guard i < bytes.count else { throw Failure(detail: "not valid JSON") }
        return bytes[i]
    }

    mutating func expectObjectStart(_ path: String) throws(Failure) {
        guard try peek() == UInt8(ascii: "{") else { throw Failure(detail: "field \(path): expected an object") }
    }

    /// Iterates an object's members; `body` must consume the value.
    mutating func object(_ body: (String, inout XPayloadReader) throws(Failure) -> Void) throws(Failure) {
        guard try peek() == UInt8(ascii: "{") else { throw Failure(detail: "not valid JSON") }
        i += 1
        if try peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            guard try peek() == UInt8(ascii: "\"") else { throw Failure(detail: "not valid JSON") }
            let key = try rawString()
            guard try peek() == UInt8(ascii: ":") else { throw Failure(detail: "not valid JSON") }
            i += 1
            try body(key, &self)
            let next = try peek()
            i += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw Failure(detail: "not valid JSON") }
        }
    }

    mutating func array(_ body: (inout XPayloadReader) throws(Failure) -> Void) throws(Failure) {
        guard try peek() == UInt8(ascii: "[") else { throw Failure(detail: "not valid JSON") }
        i += 1
        if try peek() == UInt8(ascii: "]") { i += 1; return }
        while true {
            try body(&self)
            let next = try peek()
            i += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw Failure(detail: "not valid JSON") }
        }
    }

    mutating func null() throws(Failure) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    mutating func string(_ path: String) throws(Failure) -> String {
        let c = try peek()
        guard c == UInt8(ascii: "\"") else {
            if c == UInt8(ascii: "n") { try literal("null"); throw Failure(detail: "field \(path): expected String, got null") }
            try skipValue()
            throw Failure(detail: "field \(path): expected String")
        }
        return try rawString()
    }

    mutating func optionalString(_ path: String) throws(Failure) -> String? {
        if try null() { return nil }
        return try string(path)
    }

    mutating func integer(_ path: String) throws(Failure) -> Int {
        let start = i
        guard try peek() != UInt8(ascii: "\"") else { throw Failure(detail: "field \(path): expected Int") }
        try skipValue()
        var value = 0
        var negative = false
        var j = start
        while j < i, bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D { j += 1 }
        if j < i, bytes[j] == UInt8(ascii: "-") { negative = true; j += 1 }
        guard j < i else { throw Failure(detail: "field \(path): expected Int") }
        while j < i {
            let b = bytes[j]
            guard b >= 48 && b <= 57 else { throw Failure(detail: "field \(path): expected Int") }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - 48))
            guard !o1 && !o2 else { throw Failure(detail: "field \(path): expected Int") }
            value = a
            j += 1
        }
        return negative ? -value : value
    }

    mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw Failure(detail: "not valid JSON") }
        let w = word.utf8Start
        for k in 0..<n where bytes[i + k] != w[k] { throw Failure(detail: "not valid JSON") }
        i += n
    }

    /// A string at `i` (which is at its opening quote), unescaped.
    mutating func rawString() throws(Failure) -> String {
        i += 1
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if b < 0x20 { throw Failure(detail: "not valid JSON") }
            i += 1
        }
        throw Failure(detail: "not valid JSON")
    }

    mutating func escapedString(from start: Int) throws(Failure) -> String {
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if b < 0x20 { throw Failure(detail: "not valid JSON") }
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            guard i + 1 < bytes.count else { throw Failure(detail: "not valid JSON") }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw Failure(detail: "not valid JSON") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure(detail: "not valid JSON") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw Failure(detail: "not valid JSON")
                }
                guard let u = Unicode.Scalar(scalar) else { throw Failure(detail: "not valid JSON") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw Failure(detail: "not valid JSON")
            }
        }
        throw Failure(detail: "not valid JSON")
    }

    mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= bytes.count else { throw Failure(detail: "not valid JSON") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt8
            switch b {
            case 48...57: d = b - 48
            case 65...70: d = b - 55
            case 97...102: d = b - 87
            default: throw Failure(detail: "not valid JSON")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    /// Checks and skips any value.
    mutating func skipValue() throws(Failure) {
        switch try peek() {
        case UInt8(ascii: "{"): try object { _, p throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "["): try array { p throws(Failure) in try p.skipValue() }
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try number()
        }
    }

    mutating func skipString() throws(Failure) {
        i += 1
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; return }
            if b == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { break }
                if bytes[i + 1] == UInt8(ascii: "u") { i += 2; _ = try hex4(); continue }
                guard [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                       UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t")].contains(bytes[i + 1]) else { break }
                i += 2
                continue
            }
            if b < 0x20 { break }
            i += 1
        }
        throw Failure(detail: "not valid JSON")
    }

    /// RFC 8259 number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    mutating func number() throws(Failure) {
        func digits(_ p: inout XPayloadReader) -> Int {
            let s = p.i
            while p.i < p.bytes.count, p.bytes[p.i] >= 48, p.bytes[p.i] <= 57 { p.i += 1 }
            return p.i - s
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count else { throw Failure(detail: "not valid JSON") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else if digits(&self) == 0 { throw Failure(detail: "not valid JSON") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") { i += 1; guard digits(&self) > 0 else { throw Failure(detail: "not valid JSON") } }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw Failure(detail: "not valid JSON") }
        }
    }
}
