import ConvictionStore
import CZlib
import Crypto
import Foundation

/// S3's additional checksums (`x-amz-checksum-*`), which S3 keeps with the object and returns on
/// `GET` with `x-amz-checksum-mode: ENABLED`. Unlike the ETag, which is the body's MD5 only for
/// single-part objects without SSE-KMS, a full-object checksum means the same thing for every
/// object, so reads are checked against it. Conviction writes CRC32C; it verifies CRC32C, CRC32,
/// SHA-1 and SHA-256 full-object values (what AWS's tools write by default). Composite multipart
/// values (`...-N`) and CRC64NVME are not verified.
enum S3Checksum {
    /// The value of a full-object checksum header, base64 of the big-endian digest.
    static func crc32c(_ data: Data) -> String { base64(CRC32C.checksum(data)) }

    /// The body's checksum for `header` (`x-amz-checksum-crc32c` ...), or nil for an algorithm not checked here.
    static func value(forHeader header: String, of data: Data) -> String? {
        switch header.lowercased() {
        case "x-amz-checksum-crc32c": return crc32c(data)
        case "x-amz-checksum-crc32":
            let crc = data.withUnsafeBytes { raw in
                raw.isEmpty ? CZlib.crc32(0, nil, 0) : CZlib.crc32(0, raw.bindMemory(to: UInt8.self).baseAddress, uInt(raw.count))
            }
            return base64(UInt32(truncatingIfNeeded: crc))
        case "x-amz-checksum-sha256": return Data(SHA256.hash(data: data)).base64EncodedString()
        case "x-amz-checksum-sha1": return Data(Insecure.SHA1.hash(data: data)).base64EncodedString()
        default: return nil
        }
    }

    static func base64(_ value: UInt32) -> String {
        Data([UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]).base64EncodedString()
    }

    /// Checks a GET's body against the full-object checksum among `headers`. Returns the header
    /// checked, nil when there was none this client can check; throws naming the header on a mismatch.
    static func verify(_ body: Data, headers: [(String, String)], key: String) throws -> String? {
        for (name, value) in headers where name.lowercased().hasPrefix("x-amz-checksum-") && name.lowercased() != "x-amz-checksum-type" {
            guard !value.contains("-"), let computed = Self.value(forHeader: name, of: body) else { continue }
            guard computed == value else {
                throw StoreError(key: key, message: "integrity check failed: the body's \(name.lowercased().dropFirst("x-amz-checksum-".count)) is \(computed), S3 stored \(value)")
            }
            return name.lowercased()
        }
        return nil
    }
}

/// CRC-32C (Castagnoli), the checksum S3 recommends. Slice-by-8 over a 8x256 table.
/// Hand-written: swift-crypto has no CRC, and zlib's crc32 uses the other polynomial.
enum CRC32C {
    /// Eight 256-entry tables, one after the other.
    static let table: [UInt32] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][i] = crc
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables.flatMap { $0 }
    }()

    static func checksum(_ data: Data) -> UInt32 { update(0, data) }

    /// The CRC-32C of `a` followed by `data`, given `crc` = the CRC-32C of `a`: for objects read or
    /// written in pieces.
    static func update(_ crc: UInt32, _ data: Data) -> UInt32 {
        data.withUnsafeBytes { raw -> UInt32 in
            let bytes = raw.bindMemory(to: UInt8.self)
            return table.withUnsafeBufferPointer { t -> UInt32 in
                var crc: UInt32 = crc ^ 0xFFFF_FFFF
                var i = 0
                let n = bytes.count
                while i + 8 <= n {
                    let lo = crc ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
                    crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int(lo >> 8 & 0xFF)] ^ t[5 * 256 + Int(lo >> 16 & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                        ^ t[3 * 256 + Int(bytes[i + 4])] ^ t[2 * 256 + Int(bytes[i + 5])] ^ t[256 + Int(bytes[i + 6])] ^ t[Int(bytes[i + 7])]
                    i += 8
                }
                while i < n {
                    crc = t[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
                    i += 1
                }
                return crc ^ 0xFFFF_FFFF
            }
        }
    }
}
