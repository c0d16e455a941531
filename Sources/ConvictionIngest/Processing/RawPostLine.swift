import ConvictionCore
import Foundation

/// The raw store's line: `{"received_at":"<RFC 3339>","payload":<the X payload, byte for byte>}`.
/// The payload is spliced in verbatim rather than re-encoded, so nothing the API sent is lost.
public enum RawPostLine {
    public static func encode(payload: Data, receivedAt: EpochMillis) -> Data {
        var line = Data("{\"received_at\":\"\(Timestamps.iso8601(receivedAt))\",\"payload\":".utf8)
        line.append(payload)
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// Splits a raw line into its receipt time and verbatim payload.
    public static func decode(_ line: Data) -> (receivedAt: EpochMillis, payload: Data)? {
        let prefix = Array("{\"received_at\":\"".utf8)
        let bytes = [UInt8](line)
        guard bytes.count > prefix.count + 24 + 12, Array(bytes[0..<prefix.count]) == prefix,
              let quote = bytes[prefix.count...].firstIndex(of: UInt8(ascii: "\"")),
              let receivedAt = Timestamps.parseISO8601(String(decoding: bytes[prefix.count..<quote], as: UTF8.self)) else { return nil }
        let payloadMarker = Array("\",\"payload\":".utf8)
        let payloadStart = quote + payloadMarker.count
        guard payloadStart < bytes.count, Array(bytes[quote..<payloadStart]) == payloadMarker, bytes.last == UInt8(ascii: "}") else { return nil }
        return (receivedAt, Data(bytes[payloadStart..<(bytes.count - 1)]))
    }
}
