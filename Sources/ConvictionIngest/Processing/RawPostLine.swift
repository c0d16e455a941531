import ConvictionCore
import Foundation

/// The raw store's line: `{"received_at":"<RFC 3339>","payload":<the X payload, byte for byte>}`.
/// The payload is spliced in verbatim rather than re-encoded, so nothing the API sent is lost.
/// A post fetched from search after the fact (`ingest history`) carries `"historical":true`: its
/// `received_at` is the fetch time, so later stages take it as known from its `created_at`.
public enum RawPostLine {
    public static func encode(payload: Data, receivedAt: EpochMillis, historical: Bool = false) -> Data {
        var line = Data("{\"received_at\":\"\(Timestamps.iso8601(receivedAt))\",\(historical ? "\"historical\":true," : "")\"payload\":".utf8)
        line.append(payload)
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// Splits a raw line into its receipt time, whether it was fetched from history, and its verbatim payload.
    public static func decode(_ line: Data) -> (receivedAt: EpochMillis, payload: Data, historical: Bool)? {
        let prefix = Array("{\"received_at\":\"".utf8)
        let bytes = [UInt8](line)
        guard bytes.count > prefix.count + 24 + 12, Array(bytes[0..<prefix.count]) == prefix,
              let quote = bytes[prefix.count...].firstIndex(of: UInt8(ascii: "\"")),
              let receivedAt = Timestamps.parseISO8601(String(decoding: bytes[prefix.count..<quote], as: UTF8.self)) else { return nil }
        for (marker, historical) in [(Array("\",\"payload\":".utf8), false), (Array("\",\"historical\":true,\"payload\":".utf8), true)] {
            let payloadStart = quote + marker.count
            guard payloadStart < bytes.count, Array(bytes[quote..<payloadStart]) == marker, bytes.last == UInt8(ascii: "}") else { continue }
            return (receivedAt, Data(bytes[payloadStart..<(bytes.count - 1)]), historical)
        }
        return nil
    }
}
