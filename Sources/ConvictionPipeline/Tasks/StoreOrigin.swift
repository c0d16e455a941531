import ConvictionCore
import ConvictionStore
import Foundation

/// Whether a store holds simulated or real data, recorded in `origin.json` by the first stage that
/// writes inputs into it. Simulated and real data are never mixed: a writer of the other kind is
/// refused with an error that says what is there and what to do.
public enum StoreOrigin: String, Codable, Sendable {
    case simulated, real

    static let key = "origin.json"

    struct Record: Codable { let origin: StoreOrigin; let firstWriter: String }

    public struct Mixing: ConvictionError {
        public var errorCode: ErrorCode { .conflict }
        public let description: String
    }

    /// The store's origin, or nil when nothing has written inputs yet.
    public static func current(in store: any ObjectStore) async throws -> StoreOrigin? {
        guard try await store.exists(key) else { return nil }
        let data = try await store.get(key)
        do { return try JSONDecoder().decode(Record.self, from: data).origin } catch {
            throw StoreError(key: key, message: "not a store origin record: \(error)")
        }
    }

    /// Records `origin` for `writer` (e.g. "conviction features import-bars"), or refuses when the
    /// store already holds the other kind.
    public static func claim(_ origin: StoreOrigin, by writer: String, in store: any ObjectStore) async throws {
        if let existing = try await current(in: store) {
            guard existing == origin else {
                let first = (try? JSONDecoder().decode(Record.self, from: try await store.get(key)).firstWriter) ?? "an earlier run"
                throw Mixing(description: existing == .simulated
                    ? "\(store.location) holds simulated data (written by \(first)); \(writer) would add real data to it. Simulated and real data are never mixed: use another --data-dir for real data."
                    : "\(store.location) holds real data (written by \(first)); \(writer) would add simulated data to it. Simulated and real data are never mixed: use another --data-dir for the simulator (data.source = \"simulator\" is the demo's setting).")
            }
            return
        }
        let record = Record(origin: origin, firstWriter: writer)
        _ = try await store.create(key, data: try JSON.encode(record))
    }
}
