import ConvictionCore
import ConvictionIngest
import ConvictionStore
import ConvictionTesting
import ConvictionXEmulator
import Foundation
import Logging
import NIOConcurrencyHelpers

/// A clock whose sleeps return at once and move its time forward, recording each wait: an hour
/// of backoff runs in microseconds, and the test reads back exactly what was waited.
final class VirtualClock: IngestClock {
    private let state = NIOLockedValueBox<(now: Int64, sleeps: [Duration])>((1_790_000_000_000, []))
    func now() -> Int64 { state.withLockedValue { $0.now } }
    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLockedValue { $0.now += Int64(duration.seconds * 1000); $0.sleeps.append(duration) }
        await Task.yield()
    }
    var sleeps: [Duration] { state.withLockedValue { $0.sleeps } }
}

enum StreamFixtures {
    static let token = "test-bearer-AAAAAAAAAAAAAAAAAAAAAA"
    static let symbols = Symbol.universe

    /// `count` clean posts, one configured symbol each, ids increasing, every text with a multi-byte
    /// character (so a split inside a character is possible anywhere), all passing the filters.
    static func feed(count: Int, firstID: UInt64 = 1_900_000_000_000_000_000) -> [Data] {
        let texts = ["breaking out, buying more shares 🚀", "earnings beat, price target raised 📈", "weak guidance, selling — bearish",
                     "options flow looks bullish 👀", "chart says rally into the close ✅", "dip buyers at the market open 💎"]
        return (0..<count).map { i in
            let symbol = symbols[i % symbols.count]
            let text = "$\(symbol.rawValue) \(texts[i % texts.count]) #\(i)"
            let created = Timestamps.iso8601(1_767_600_000_000 + Int64(i) * 1000)
            let author = 1000 + i % 97
            return Data("""
            {"data":{"id":"\(firstID + UInt64(i) * 7)","text":"\(text)","created_at":"\(created)","author_id":"\(author)","lang":"en","public_metrics":{"retweet_count":0,"reply_count":0,"like_count":\(i % 5),"quote_count":0},"entities":{"cashtags":[{"start":0,"end":\(symbol.rawValue.count + 1),"tag":"\(symbol.rawValue)"}]}},"includes":{"users":[{"id":"\(author)","username":"user\(author)","public_metrics":{"followers_count":\(100 + author),"following_count":5,"tweet_count":50}}]}}
            """.utf8)
        }
    }

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
                let (_, payload) = try require_(RawPostLine.decode(line.bytes))
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
