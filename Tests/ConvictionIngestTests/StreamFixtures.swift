import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import Foundation
import Logging
import NIOConcurrencyHelpers

enum StreamFixtures {
    static let token = "test-bearer-AAAAAAAAAAAAAAAAAAAAAA"
    static let symbols = Symbol.universe

    static var logger: Logger {
        var logger = Logger(label: "test.ingest")
        logger.logLevel = ProcessInfo.processInfo.environment["CONVICTION_TEST_LOG"] == nil ? .error : .info
        return logger
    }

    static func ruleSet(filters: IngestFilters = .init()) -> StreamRuleSet {
        StreamRuleSet(symbols: symbols, filters: filters, ruleKeywords: IngestFilters.defaultKeywords)
    }

    /// Puts the rules on the emulator through the real client.
    static func syncRules(_ api: XAPIClient) async throws {
        _ = try await api.addRules(try ruleSet().rules(), dryRun: false)
    }

    /// Every raw post id in the store with how often it is stored.
    static func storedIDs(_ store: any ObjectStore) async throws -> [UInt64: Int] {
        var counts: [UInt64: Int] = [:]
        for key in try await store.list(prefix: Dataset.rawPosts.rawValue + "/") {
            for line in JSONLines.read(try await store.get(key), gzipped: true).lines {
                let payload = try require_(RawPostLine.decode(line.bytes)).payload
                let object = try JSONSerialization.jsonObject(with: payload) as? [String: Any]
                let id = UInt64(((object?["data"] as? [String: Any])?["id"] as? String) ?? "") ?? 0
                counts[id, default: 0] += 1
            }
        }
        return counts
    }

    static func quarantine(_ store: any ObjectStore) async throws -> [QuarantineRecord] {
        var records: [QuarantineRecord] = []
        for key in try await store.list(prefix: Dataset.quarantine.rawValue + "/ingest/") {
            for line in JSONLines.read(try await store.get(key), gzipped: true).lines {
                records.append(try JSONDecoder().decode(QuarantineRecord.self, from: line.bytes))
            }
        }
        return records
    }

    /// What the client's waits must be, replayed from the server's log of connect outcomes through
    /// the documented schedule: counters per class, all reset by a successful connect.
    static func expectedWaits(connectLog: [String], policy: ReconnectPolicy) -> [StreamIngestor.Wait] {
        var attempts: [DisconnectClass: Int] = [:]
        var waits: [StreamIngestor.Wait] = []
        for outcome in connectLog {
            let cls: DisconnectClass
            switch outcome {
            case "ok": attempts = [:]; cls = .dropped
            case "429": cls = .rateLimited
            default: cls = .http
            }
            let attempt = cls == .dropped ? 0 : attempts[cls, default: 0] + 1
            attempts[cls] = attempt
            waits.append(.init(cls: cls, attempt: attempt, duration: policy.wait(for: cls, attempt: attempt), untilReset: false))
        }
        return waits
    }
}

struct MissingValue: Error {}
func require_<T>(_ value: T?) throws -> T {
    guard let value else { throw MissingValue() }
    return value
}
