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

    /// 15 window bits + 16 selects the gzip wrapper; + 32 on inflate auto-detects gzip or zlib.
    public static func compress(_ input: Data, level: Int32 = 6) throws -> Data {
        var partial = Data()
        return try zlib(input, windowBits: 15 + 16, level: level, deflating: true, partial: &partial)
    }

    public static func decompress(_ input: Data) throws -> Data {
        var partial = Data()
        return try zlib(input, windowBits: 15 + 32, level: 0, deflating: false, partial: &partial)
    }

    /// Decompresses as much as can be read; `error` says why it stopped early (truncation, corruption).
    public static func decompressPartial(_ input: Data) -> (Data, Error?) {
        var partial = Data()
        do {
            return (try zlib(input, windowBits: 15 + 32, level: 0, deflating: false, partial: &partial), nil)
        } catch let error as Error {
            return (partial, error)
        } catch {
            return (partial, Error(description: "\(error)"))
        }
    }

    private static func zlib(_ input: Data, windowBits: Int32, level: Int32, deflating: Bool, partial: inout Data) throws -> Data {
        var stream = z_stream()
        let initStatus = deflating
            ? czlib_deflate_init(&stream, level, windowBits)
            : czlib_inflate_init(&stream, windowBits)
        guard initStatus == Z_OK else { throw Error(description: "zlib init failed (\(initStatus))") }
        defer { if deflating { deflateEnd(&stream) } else { inflateEnd(&stream) } }

        var output = Data()
        // Reserve what the result will likely need: the appends then rarely reallocate and copy.
        output.reserveCapacity(deflating ? input.count / 3 + 4096 : input.count * 4)
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        let inputCount = input.count
        var status: Int32 = Z_OK
        try input.withUnsafeBytes { (inRaw: UnsafeRawBufferPointer) in
            // zlib reads through a non-const pointer but never writes to the input.
            stream.next_in = inRaw.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
            stream.avail_in = uInt(inputCount)
            repeat {
                try buffer.withUnsafeMutableBufferPointer { outPtr in
                    stream.next_out = outPtr.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = deflating ? deflate(&stream, Z_FINISH) : inflate(&stream, Z_NO_FLUSH)
                    if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                        partial = output
                        throw Error(description: "corrupt or truncated gzip data (zlib status \(status))")
                    }
                    output.append(outPtr.baseAddress!, count: chunk - Int(stream.avail_out))
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 && !deflating {
                    partial = output
                    throw Error(description: "truncated gzip data: stream ended before its trailer")
                }
                // A file may hold several gzip members one after another (`cat a.gz b.gz`), which gzip
                // and Python read as one stream: go on with the next member. Trailing zeros (padding)
                // end the data; anything else after a member is damage, not silently dropped.
                if status == Z_STREAM_END && !deflating && stream.avail_in > 0 {
                    let offset = inputCount - Int(stream.avail_in)
                    let rest = inRaw[offset...]
                    if rest.count >= 2 && rest[offset] == 0x1F && rest[offset + 1] == 0x8B {
                        guard inflateReset(&stream) == Z_OK else { throw Error(description: "zlib reset failed") }
                        status = Z_OK
                    } else if !rest.allSatisfy({ $0 == 0 }) {
                        partial = output
                        throw Error(description: "unexpected bytes after the gzip data at byte \(offset)")
                    }
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
