import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let ingestKeys: [Key] = [
        Key(name: "ingest.api_base", help: "X API base URL (a local X API server in tests).",
            get: { .string($0.ingest.apiBase) }, set: { c, v throws(ValueError) in c.ingest.apiBase = try url(v, optional: false) }),
        Key(name: "ingest.languages", help: "Accepted post languages (lang); empty = all.",
            get: { .array($0.ingest.filters.languages.sorted().map { .string($0) }) },
            set: { c, v throws(ValueError) in c.ingest.filters.languages = Set(try strings(v)) }),
        Key(name: "ingest.drop_retweets", help: "Drop retweets (the rules say -is:retweet).",
            get: { .bool($0.ingest.filters.dropRetweets) }, set: { c, v throws(ValueError) in c.ingest.filters.dropRetweets = try bool(v) }),
        Key(name: "ingest.max_cashtags", help: "Posts with more distinct cashtags are cashtag spam; 0 = no limit.",
            get: { .integer($0.ingest.filters.maxCashtags) }, set: { c, v throws(ValueError) in c.ingest.filters.maxCashtags = try int(v, 0...100) }),
        Key(name: "ingest.keyword_symbols", help: "Symbols whose posts need a financial keyword (ambiguous cashtags); [\"*\"] = all.",
            get: { .array($0.ingest.filters.keywordSymbols.map { .string($0.rawValue) }.sorted { "\($0)" < "\($1)" }) },
            set: { c, v throws(ValueError) in c.ingest.filters.keywordSymbols = Set(try strings(v).map(Symbol.init)) }),
        Key(name: "ingest.bot_patterns", help: "Phrases (case-insensitive) that mark bot spam.",
            get: { .array($0.ingest.filters.botPatterns.map { .string($0) }) },
            set: { c, v throws(ValueError) in c.ingest.filters.botPatterns = try strings(v).filter { !$0.isEmpty } }),
        Key(name: "ingest.duplicate_window_seconds", help: "The same text from the same author within this window is a duplicate.",
            get: { .integer($0.ingest.filters.duplicateTextWindowSeconds) },
            set: { c, v throws(ValueError) in c.ingest.filters.duplicateTextWindowSeconds = try int(v, 0...7 * 86_400) }),
        Key(name: "ingest.idle_timeout_seconds", help: "No bytes, not even a keep-alive, for this long: the stream is dead, reconnect.",
            get: { .float($0.ingest.idleTimeout.seconds) }, set: { c, v throws(ValueError) in c.ingest.idleTimeout = try seconds(v, 0.05...600) }),
        Key(name: "ingest.commit_interval_seconds", help: "Journal segments are committed to the store at least this often.",
            get: { .integer($0.ingest.commitInterval.wholeSeconds) }, set: { c, v throws(ValueError) in c.ingest.commitInterval = try wholeSeconds(v, 1...86_400) }),
        Key(name: "ingest.fsync_interval_ms", help: "The journal is fsynced at least this often (a power cut loses at most this much).",
            get: { .integer(Int($0.ingest.fsyncInterval / .milliseconds(1))) }, set: { c, v throws(ValueError) in c.ingest.fsyncInterval = .milliseconds(try int(v, 0...600_000)) }),
        Key(name: "ingest.queue_capacity", help: "Lines the reader may queue ahead of processing (overflow is recovered by backfill).",
            get: { .integer($0.ingest.queueCapacity) }, set: { c, v throws(ValueError) in c.ingest.queueCapacity = try int(v, 100...10_000_000) }),
        Key(name: "ingest.metrics_port", help: "Serve Prometheus /metrics on this loopback port while streaming; 0 = off.",
            get: { .integer($0.ingest.metricsPort) }, set: { c, v throws(ValueError) in c.ingest.metricsPort = try int(v, 0...65_535) }),
        Key(name: "ingest.state_dir", help: "Journal and de-duplication state; empty = <data.dir>/ingest-state.",
            get: { .string($0.ingest.stateDir) }, set: { c, v throws(ValueError) in c.ingest.stateDir = try string(v) }),
        Key(name: "ingest.max_auth_failures", help: "Consecutive 401/403 answers before the stream gives up.",
            get: { .integer($0.ingest.maxAuthFailures) }, set: { c, v throws(ValueError) in c.ingest.maxAuthFailures = try int(v, 1...1000) }),
        Key(name: "ingest.emulator_rate", help: "Posts per second the local X API server publishes in the demo.",
            get: { .float($0.ingest.emulatorRate) }, set: { c, v throws(ValueError) in c.ingest.emulatorRate = try double(v, 1...1_000_000) }),
        Key(name: "ingest.full_archive", help: "Full-archive search for history and old gaps: auto (try once, fall back to recent search), always, never.",
            get: { .string($0.ingest.fullArchive.rawValue) }, set: { c, v throws(ValueError) in c.ingest.fullArchive = try choice(v) }),
        Key(name: "ingest.monthly_post_cap", help: "Posts the X account may read a month (its plan's cap), for ingest history's estimate.",
            get: { .integer($0.ingest.monthlyPostCap) }, set: { c, v throws(ValueError) in c.ingest.monthlyPostCap = try int(v, 1...Int(Int32.max)) }),
        Key(name: "ingest.cost_per_post", help: "US dollars X bills per post read, for ingest history's estimate (set it from your plan).",
            get: { .float($0.ingest.costPerPost) }, set: { c, v throws(ValueError) in c.ingest.costPerPost = try double(v, 0...100) }),
        Key(name: "ingest.history_max_posts", help: "ingest history stops after its estimate above this many posts, unless --yes.",
            get: { .integer($0.ingest.historyMaxPosts) }, set: { c, v throws(ValueError) in c.ingest.historyMaxPosts = try int(v, 0...Int(Int32.max)) }),
        Key(name: "ingest.history_page_size", help: "Posts per search page for ingest history (10 to 500; recent search takes at most 100).",
            get: { .integer($0.ingest.historyPageSize) }, set: { c, v throws(ValueError) in c.ingest.historyPageSize = try int(v, 10...500) }),
    ]
}
