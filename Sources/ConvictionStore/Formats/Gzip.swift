import ConvictionCore
import CZlib
import Foundation

/// gzip (RFC 1952) compression through zlib.
///
/// The header's modification time is left at zero, so the same input always gives the same
/// bytes: the simulator promises byte-identical outputs for a seed.
public enum Gzip {
    public struct Error: ConvictionError {
        public var errorCode: ErrorCode { .badInput }
        public let description: String
    }

        /// gzip of `input` whole: through libdeflate when it loads, zlib otherwise (`MemberCompressor`).
    public static func compress(_ input: Data, level: Int32 = 6) throws -> Data {
        try MemberCompressor(level: level).compress(input)
    }

    public static func decompress(_ input: Data) throws -> Data {
        let (output, error) = decompressPartial(input)
        if let error { throw error }
        return output
    }

    /// Decompresses as much as can be read; `error` says why it stopped early (truncation, corruption).
    public static func decompressPartial(_ input: Data) -> (Data, Error?) {
        var output = Data()
        output.reserveCapacity(input.count * 4)
        do {
            let inflater = try Inflater()
            try inflater.inflate(input) { output.append(contentsOf: $0) }
            try inflater.finish()
            return (output, nil)
        } catch let error as Error {
            return (output, error)
        } catch {
            return (output, Error(description: "\(error)"))
        }
    }

    /// One gzip stream, inflated as its bytes arrive. A file may hold several members one after
    /// another (`cat a.gz b.gz`), which gzip and Python read as one stream, and so does this.
    /// Trailing zeros (padding) end the data; anything else after a member is damage, not dropped.
    public final class Inflater {
        var stream = z_stream()
        /// Between members (or before the first): what comes next decides.
        var betweenMembers = true
        var padding = false
        var consumed = 0
        var output = [UInt8](repeating: 0, count: 1 << 18)

        public init() throws {
            guard czlib_inflate_init(&stream, 15 + 32) == Z_OK else { throw Error(description: "zlib init failed") }
        }

        deinit { inflateEnd(&stream) }

        /// Inflates the next piece of input, handing what it gives to `sink` (valid during the call only).
        public func inflate(_ input: Data, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            try input.withUnsafeBytes { (inRaw: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < inRaw.count {
                    if padding || betweenMembers && consumed > 0 && inRaw[offset] == 0 {
                        padding = true
                        guard let bad = inRaw[offset...].firstIndex(where: { $0 != 0 }) else { consumed += inRaw.count - offset; return }
                        throw Error(description: "unexpected bytes after the gzip data at byte \(consumed + bad - offset)")
                    }
                    if betweenMembers && consumed > 0 && inRaw[offset] != 0x1F {
                        throw Error(description: "unexpected bytes after the gzip data at byte \(consumed)")
                    }
                    if betweenMembers && consumed > 0 { guard inflateReset(&stream) == Z_OK else { throw Error(description: "zlib reset failed") } }
                    betweenMembers = false
                    // zlib reads through a non-const pointer but never writes to the input.
                    stream.next_in = UnsafeMutablePointer(mutating: inRaw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(inRaw.count - offset)
                    var status: Int32 = Z_OK
                    repeat {
                        try output.withUnsafeMutableBufferPointer { out in
                            stream.next_out = out.baseAddress
                            stream.avail_out = uInt(out.count)
                            status = CZlib.inflate(&stream, Z_NO_FLUSH)
                            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                                throw Error(description: consumed == 0 && offset == 0 && stream.total_in == 0
                                    ? "not gzip data (zlib status \(status))"
                                    : "corrupt gzip data near byte \(consumed + inRaw.count - Int(stream.avail_in)) (zlib status \(status))")
                            }
                            let produced = out.count - Int(stream.avail_out)
                            if produced > 0 { try sink(UnsafeRawBufferPointer(start: out.baseAddress, count: produced)) }
                        }
                    } while status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0)
                    let used = inRaw.count - offset - Int(stream.avail_in)
                    consumed += used
                    offset += used
                    if status == Z_STREAM_END { betweenMembers = true }
                    if status == Z_BUF_ERROR && stream.avail_in > 0 { throw Error(description: "zlib made no progress at byte \(consumed)") }
                }
            }
        }

        /// Call once the input has ended: throws when it ended inside a member.
        public func finish() throws {
            guard betweenMembers || padding else { throw Error(description: "truncated gzip data: stream ended before its trailer") }
            guard consumed > 0 else { throw Error(description: "truncated gzip data: no data") }
        }
    }

    /// Deflates `input` whole, with the gzip wrapper (15 window bits + 16).
    static func deflateAll(_ input: Data, level: Int32) throws -> Data {
        var stream = z_stream()
        guard czlib_deflate_init(&stream, level, 15 + 16) == Z_OK else { throw Error(description: "zlib init failed") }
        defer { deflateEnd(&stream) }
        var output = Data()
        // Reserve what the result will likely need: the appends then rarely reallocate and copy.
        output.reserveCapacity(input.count / 3 + 4096)
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var status: Int32 = Z_OK
        input.withUnsafeBytes { (inRaw: UnsafeRawBufferPointer) in
            // zlib reads through a non-const pointer but never writes to the input.
            stream.next_in = inRaw.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
            stream.avail_in = uInt(inRaw.count)
            repeat {
                buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = deflate(&stream, Z_FINISH)
                    output.append(out.baseAddress!, count: out.count - Int(stream.avail_out))
                }
            } while status == Z_OK || status == Z_BUF_ERROR
        }
        guard status == Z_STREAM_END else { throw Error(description: "zlib deflate failed (status \(status))") }
        return output
    }
}
