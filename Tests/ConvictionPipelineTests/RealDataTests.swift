import ConvictionCore
@testable import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
@testable import ConvictionPipeline
import ConvictionStore
import ConvictionTesting
import Foundation
import Testing

/// Real posts and real prices: X API v1.1 archives, aliases, daily bars and their boundaries,
/// the dead zone, split adjustment, and a store that never mixes simulated and real data.
@Suite(.timeLimit(.minutes(10))) struct RealDataTests {
    /// A v1.1 status as StockNet and twarc 1 hold them.
    static func v1(id: UInt64, text: String, at createdAt: String, symbols: [String], followers: Int = 78, favorites: Int = 3,
                   retweets: Int = 1, retweetOf: Bool = false, extended: String? = nil) -> [String: Any] {
        var status: [String: Any] = [
            "created_at": createdAt, "id": NSNumber(value: id), "id_str": String(id), "text": text, "lang": "en", "truncated": extended != nil,
            "user": ["id": NSNumber(value: 1_126_843_458), "id_str": "1126843458", "followers_count": followers, "created_at": "Mon Jan 28 03:04:32 +0000 2013"],
            "entities": ["symbols": symbols.map { ["text": $0, "indices": [0, $0.count + 1]] }, "hashtags": [], "urls": []],
            "favorite_count": favorites, "retweet_count": retweets,
        ]
        if retweetOf { status["retweeted_status"] = ["id": 1, "id_str": "1", "text": "original"] }
        if let extended { status["extended_tweet"] = ["full_text": extended, "entities": ["symbols": symbols.map { ["text": $0] }]] }
        return status
    }

    /// The same post as an X API v2 filtered-stream message: what a converter from v1.1 writes.
    static func v2(from status: [String: Any]) throws -> [String: Any] {
        let user = status["user"] as! [String: Any]
        let createdAt = Timestamps.iso8601(try #require(Timestamps.parseV1(status["created_at"] as! String)))
        let extended = status["extended_tweet"] as? [String: Any]
        let symbols = ((extended?["entities"] as? [String: Any] ?? status["entities"] as! [String: Any])["symbols"] as! [[String: Any]]).map { $0["text"] as! String }
        var data: [String: Any] = [
            "id": status["id_str"] as! String, "text": extended?["full_text"] as? String ?? status["text"] as! String, "created_at": createdAt,
            "author_id": user["id_str"] as! String, "lang": status["lang"] as! String,
            "entities": ["cashtags": symbols.map { ["start": 0, "end": $0.count + 1, "tag": $0] }],
            "public_metrics": ["like_count": status["favorite_count"] as! Int, "retweet_count": status["retweet_count"] as! Int, "reply_count": 0, "quote_count": 0],
        ]
        if status["retweeted_status"] != nil { data["referenced_tweets"] = [["type": "retweeted", "id": "1"]] }
        return ["data": data, "includes": ["users": [["id": user["id_str"] as! String, "public_metrics": ["followers_count": user["followers_count"] as! Int]]]]]
    }

    static func line(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) }

    @Test func v1AndV2OfTheSamePostNormaliseIdentically() throws {
        let normalizer = PostNormalizer(symbols: Symbol.universe)
        let statuses = [
            Self.v1(id: 551_140_345_287_692_290, text: "C.Gillis' $103 $AAPL tgt, watch &amp; tv still to come", at: "Fri Jan 02 22:17:52 +0000 2015", symbols: ["AAPL"]),
            Self.v1(id: 9_007_199_254_740_993, text: "$MSFT cloud beats, $AAPL lags", at: "Tue Jun 02 10:29:27 +0000 2015", symbols: ["MSFT", "AAPL"], followers: 0),
            Self.v1(id: 606_000_000_000_000_001, text: "RT @x: $AAPL earnings", at: "Sun Mar 08 06:59:59 +0000 2015", symbols: ["AAPL"], retweetOf: true),
            Self.v1(id: 606_000_000_000_000_002, text: "$TSLA long read, truncated…", at: "Mon Nov 02 15:00:00 -0500 2015", symbols: ["TSLA"],
                    extended: "$TSLA long read, the whole of it: deliveries beat, margins hold"),
        ]
        for status in statuses {
            let a = try normalizer.normalize(try Self.line(status), receivedAt: nil)
            let b = try normalizer.normalize(try Self.line(try Self.v2(from: status)), receivedAt: nil)
            #expect(a.post == b.post, "\(status["id_str"]!)")
            #expect(a.symbols == b.symbols)
        }
        // Ids past 2^53 stay exact; the -0500 zone is honoured; the extended text wins.
        let exact = try normalizer.normalize(try Self.line(statuses[1]), receivedAt: nil)
        #expect(exact.post.id == "9007199254740993" && exact.post.authorID == "1126843458" && exact.symbols == [Symbol("MSFT"), Symbol("AAPL")])
        let zoned = try normalizer.normalize(try Self.line(statuses[3]), receivedAt: nil)
        #expect(Timestamps.iso8601(zoned.post.createdAt) == "2015-11-02T20:00:00.000Z" && zoned.post.text.hasSuffix("margins hold"))
        #expect(try normalizer.normalize(try Self.line(statuses[2]), receivedAt: nil).post.isRetweet)
    }

    @Test func v1NoticesAreSkippedAndCountedNotQuarantined() async throws {
        let dir = TestSupport.temporaryDirectory("v1-notices")
        let store = try LocalObjectStore(root: dir.appendingPathComponent("data"))
        let lines = [
            try Self.line(Self.v1(id: 10, text: "$AAPL buy the dip", at: "Fri Jan 02 15:17:52 +0000 2015", symbols: ["AAPL"])),
            Data(#"{"delete":{"status":{"id":1234,"id_str":"1234","user_id":3,"user_id_str":"3"},"timestamp_ms":"1420210000000"}}"#.utf8),
            Data(#"{"limit":{"track":42,"timestamp_ms":"1420210000000"}}"#.utf8),
        ]
        var joined = Data()
        for l in lines { joined.append(l); joined.append(0x0A) }
        let outcome = try await ReplayIngestor(store: store, symbols: Symbol.universe).replay(.bytes("stream-grab", joined))
        #expect(outcome.accepted == 1 && outcome.rejected.isEmpty)
        #expect(outcome.notices == ["delete": 1, "limit": 1])
    }

    @Test func aFolderOfFBPostsIsStoredUnderMETAWithEveryPayloadByteKept() async throws {
        let dir = TestSupport.temporaryDirectory("aliases")
        let archive = dir.appendingPathComponent("tweet/raw/FB")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        let first = try Self.line(Self.v1(id: 20, text: "$FB earnings beat, buying", at: "Thu Jan 29 14:00:00 +0000 2015", symbols: ["FB"]))
        let second = try Self.line(Self.v1(id: 21, text: "$FB shares up on user growth", at: "Fri Jan 30 14:00:00 +0000 2015", symbols: ["FB"]))
        try (first + Data([0x0A])).write(to: archive.appendingPathComponent("2015-01-29"))  // no extension
        let gz = try JSONLines.encode([second])  // gzipped, named without .gz
        try gz.write(to: archive.appendingPathComponent("2015-01-30"))
        let context = try await makeContext(dir.appendingPathComponent("data")) {
            $0.dataSource = .stored
            $0.aliases = [Symbol("FB"): Symbol("META"), Symbol("GOOG"): Symbol("GOOGL")]
        }
        let outcome = try await IngestTask(context: context, files: [dir.appendingPathComponent("tweet").path]).run()
        #expect(outcome.failures.isEmpty && outcome.rows == 2, "\(outcome)")
        let keys = try await context.store.list(prefix: "raw/posts/")
        #expect(keys.count == 2 && keys.allSatisfy { $0.contains("symbol=META/") }, "\(keys)")
        var stored = Data()
        for key in keys.sorted() { for line in JSONLines.read(try await context.store.get(key), gzipped: true).lines { stored.append(line.bytes) } }
        for payload in [first, second] { #expect(stored.range(of: payload) != nil, "payload kept byte for byte") }
        #expect(try await StoreOrigin.current(in: context.store) == .real)
    }

    @Test func aReplayThatQuarantinesEveryLineFailsWithTheTopReasons() async throws {
        let dir = TestSupport.temporaryDirectory("all-quarantined")
        let file = dir.appendingPathComponent("posts.jsonl")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lines = (0..<3).map { #"{"id":"x\#($0)","text":"$AAPL","created_at":"2015-01-02T10:00:00Z","author_id":"1"}"# } + ["not json"]
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        let context = try await makeContext(dir.appendingPathComponent("data")) { $0.dataSource = .stored }
        let outcome = try await IngestTask(context: context, files: [file.path]).run()
        let failure = try #require(outcome.failures.first)
        #expect(failure.contains("every line was quarantined") && failure.contains("bad_value 3") && failure.contains("malformed 1"), "\(failure)")
        #expect(failure.contains("line 1"), "an example names the line: \(failure)")
    }

    /// The ingest task keeps replay's catalog: a finished file is skipped when replayed again, and a
    /// damaged one is not recorded, so the next run tries it again.
    @Test func aFinishedFileIsSkippedAndADamagedOneRetried() async throws {
        let dir = TestSupport.temporaryDirectory("replay-catalog")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lines = (1...2000).map { Data(#"{"id":"\#($0)","text":"$AAPL breaking out number \#($0)","created_at":"2015-01-02T15:00:00.000Z","author_id":"\#($0)","lang":"en","entities":{"cashtags":[{"start":0,"end":5,"tag":"AAPL"}]}}"#.utf8) }
        let whole = try JSONLines.encode(lines)
        let good = dir.appendingPathComponent("good.jsonl.gz"), cut = dir.appendingPathComponent("cut.jsonl.gz")
        try whole.write(to: good)
        try Data(whole.prefix(whole.count / 2)).write(to: cut)
        let context = try await makeContext(dir.appendingPathComponent("data")) { $0.dataSource = .stored }
        let first = try await IngestTask(context: context, files: [good.path, cut.path]).run()
        #expect(first.done == 2 && first.skipped == 0 && first.failures.count == 1, "\(first.failures)")
        #expect(try context.catalog.completion(stage: ReplayIngestor.stage, unit: cut.path) == nil, "the damaged file is not recorded as finished")
        let second = try await IngestTask(context: context, files: [good.path, cut.path]).run()
        #expect(second.skipped == 1 && second.done == 1, "the finished file is skipped, the damaged one tried again")
        #expect(second.rows == first.rows)
    }

    @Test func replayWithoutFilesOrSimulatorOutputSaysWhatItExpected() async throws {
        let dir = TestSupport.temporaryDirectory("replay-nothing")
        let context = try await makeContext(dir.appendingPathComponent("data")) { $0.dataSource = .stored }
        await #expect { try await IngestTask(context: context).replaySimulatorArchives() } throws: { error in
            "\(error)".contains("no files or folders were named") && "\(error)".contains("sim/stream/")
        }
    }

    @Test func simulatedAndRealDataAreNeverMixed() async throws {
        let dir = TestSupport.temporaryDirectory("mixing")
        let simulated = try await makeContext(dir.appendingPathComponent("sim")) { $0.simulation.sessions = 2; $0.training.folds = 1; $0.symbols = [Symbol("AAPL")] }
        _ = try await SimulateTask(context: simulated).run()
        await #expect(throws: StoreOrigin.Mixing.self) { try await StoreOrigin.claim(.real, by: "conviction features import-bars", in: simulated.store) }
        let archive = dir.appendingPathComponent("a.jsonl")
        try (try Self.line(Self.v1(id: 30, text: "$AAPL buy", at: "Fri Jan 02 15:00:00 +0000 2015", symbols: ["AAPL"]))).write(to: archive)
        await #expect(throws: StoreOrigin.Mixing.self) { try await IngestTask(context: simulated, files: [archive.path]).run() }

        let real = try await makeContext(dir.appendingPathComponent("real")) { $0.symbols = [Symbol("AAPL")] }
        _ = try await IngestTask(context: real, files: [archive.path]).run()
        await #expect(throws: StoreOrigin.Mixing.self) { try await SimulateTask(context: real).run() }
        let validate = try await ValidateTask(context: real, archives: [], twitterSentiment: true).run()
        #expect(validate.failures.contains { $0.contains("holds real data") }, "\(validate.failures)")
    }

    @Test func theCalendarKnowsUnscheduledClosuresAndEarlyCloses() {
        let calendar = TradingCalendar()
        for closed in ["2001-09-11", "2001-09-14", "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30", "2018-12-05", "2025-01-09"] {
            #expect(calendar.session(on: CivilDate(iso: closed)!) == nil, "\(closed)")
        }
        #expect(calendar.session(on: CivilDate(iso: "2012-10-31")!) != nil)
        func close(_ day: String) -> String? {
            calendar.session(on: CivilDate(iso: day)!).map { s in let m = Eastern.local(s.close).minuteOfDay; return String(format: "%02d:%02d", m / 60, m % 60) }
        }
        // Early closes: Thanksgiving Friday, Christmas Eve, 3 July (Wednesdays only from 2013), 5 July 2002, one-offs.
        for (day, expected) in [("2015-11-27", "13:00"), ("2015-12-24", "13:00"), ("2013-07-03", "13:00"), ("2002-07-03", "16:00"),
                                ("2002-07-05", "13:00"), ("2003-12-26", "13:00"), ("2005-06-01", "15:56"), ("2026-12-24", "13:00"),
                                ("2008-12-26", "16:00"), ("2016-07-01", "16:00")] {
            #expect(close(day) == expected, "\(day): \(close(day) ?? "closed")")
        }
        // Before 2007 daylight time began in April: 2004-03-15 is standard time, so 16:00 is 21:00 UTC.
        #expect(Timestamps.iso8601(calendar.session(on: CivilDate(iso: "2004-03-15")!)!.close) == "2004-03-15T21:00:00.000Z")
    }

    @Test func v1TimesAreCheckedStrictly() {
        #expect(Timestamps.parseV1("Tue Jun 02 10:29:27 +0000 2015") == Timestamps.parseISO8601("2015-06-02T10:29:27Z"))
        #expect(Timestamps.parseV1("Wed Jun 02 10:29:27 +0000 2015") == nil, "wrong weekday")
        #expect(Timestamps.parseV1("Tue Jun 31 10:29:27 +0000 2015") == nil, "no such day")
    }

    static func dailyBar(_ day: String, close: Double) -> PriceBar {
        let start = Eastern.utc(CivilDate(iso: day)!, hour: 0, minute: 0)
        return PriceBar(symbol: Symbol("AAPL"), start: start, end: start + Timestamps.day, open: close, high: close * 1.01, low: close * 0.99, close: close, volume: 1e6)
    }

    @Test(arguments: [("2015-03-06", "2015-03-09"), ("2015-10-30", "2015-11-02")])
    func aPostAt155959CountsForTheSessionAndOneAt160000ForTheNext(friday: String, monday: String) {
        // Around a change of daylight time (8 March and 1 November 2015): the close is 16:00 New York either way.
        let builder = FeatureBuilder(configuration: .init(includeSentiment: true))
        let bars = [Self.dailyBar(friday, close: 100), Self.dailyBar(monday, close: 101)]
        let fridayClose = Eastern.utc(CivilDate(iso: friday)!, hour: 16, minute: 0)
        let posts = [SentimentObservation(time: fridayClose - 1000, polarity: 1, followers: 1, label: 1),
                     SentimentObservation(time: fridayClose, polarity: -1, followers: 1, label: -1),
                     SentimentObservation(time: fridayClose + 2 * Timestamps.day, polarity: -1, followers: 1, label: -1)]  // Sunday
        let matrix = builder.buildDaily(symbol: Symbol("AAPL"), dailyBars: bars, news: [], posts: posts)
        let column = { (name: String) in matrix.columns[matrix.definitions.firstIndex { $0.name == name }!] }
        #expect(matrix.timestamps == [fridayClose, Eastern.utc(CivilDate(iso: monday)!, hour: 16, minute: 0)])
        #expect(column("posts_daily") == [1, 2])
        #expect(column("sent_daily") == [1, -1])
        // The next-session label: Friday's row is labelled with Monday's close.
        #expect(matrix.labels == [1, nil] && matrix.labelEnds[0] == matrix.timestamps[1])
    }

    @Test func theDeadZoneDropsSmallMovesAndLabelsTheRest() throws {
        var configuration = FeatureBuilder.Configuration()
        configuration.frequency = .daily
        let builder = FeatureBuilder(configuration: configuration)
        let closes = [100.0, 100.3, 99.9, 100.5, 99.8, 99.9]  // +0.30%, -0.40%, +0.60%, -0.70%, +0.10%
        let days = ["2015-06-01", "2015-06-02", "2015-06-03", "2015-06-04", "2015-06-05", "2015-06-08"]
        let matrix = builder.buildDaily(symbol: Symbol("AAPL"), dailyBars: zip(days, closes).map { Self.dailyBar($0, close: $1) }, news: [], posts: [])
        let file = try FeaturesTask.encode(matrix)
        let pooled = try TrainTask.dataset(from: [("features/symbol=AAPL/part-0.parquet", file)], deadZone: [-0.005, 0.0055])
        #expect(pooled.data.labels == [1, 0])
        #expect(pooled.deadZoneDropped == 3)
        #expect(try TrainTask.dataset(from: [("features/symbol=AAPL/part-0.parquet", file)]).data.labels == [1, 0, 1, 0, 1])
    }

    @Test func importedDailyBarsAreAdjustedForSplitsAndKeepTheRawColumns() async throws {
        let dir = TestSupport.temporaryDirectory("split")
        let store = try LocalObjectStore(root: dir)
        // AAPL's 7-for-1 split on 2014-06-09, as an unadjusted file with Adj Close.
        let csv = """
        Date,Open,High,Low,Close,Adj Close,Volume
        2014-06-05,646.20,649.37,642.61,647.35,86.73,10846900
        2014-06-06,649.90,651.26,644.47,645.57,86.49,12497800
        2014-06-09,92.70,93.88,91.75,93.70,87.67,75415000
        """
        let report = try await BarImporter(store: store, symbol: Symbol("AAPL"), frequency: .daily).importCSV(csv, source: "aapl.csv")
        #expect(report.imported == 3 && report.rejected.isEmpty)
        let data = try await store.get("market/bars_1d/symbol=AAPL/part-0.parquet")
        let bars = try MarketTables.decodeBars(data, source: "bars")
        let splitDay = log(bars[2].close / bars[1].close)
        #expect(abs(splitDay) < 0.05, "adjusted, the split day is an ordinary day, not -85%: \(splitDay)")
        #expect(abs(bars[0].open / bars[0].close - 646.20 / 647.35) < 1e-9, "open scaled by the close's factor")
        let table = try ParquetReader.decode(data, source: "bars")
        guard case .double(let raw)? = table.column("raw_close")?.values else { Issue.record("raw_close missing"); return }
        #expect(raw.map { $0 ?? 0 } == [647.35, 645.57, 93.70])
    }
}

/// The shared StockNet sample through the four documented commands.
@Suite(.timeLimit(.minutes(10))) struct StockNetEndToEndTests {
    static let sample = TestSupport.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/stocknet/stocknet-AAPL-MSFT.tar.gz")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: sample.path), "../shared/data/stocknet/ is absent: the StockNet sample is not here"))
    func theFourDocumentedCommandsRunOnRealDataWithNoSimulatorOutput() throws {
        let work = TestSupport.temporaryDirectory("stocknet")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        _ = try TestSupport.run("/bin/tar", ["xzf", Self.sample.path, "-C", work.path])
        let s = work.appendingPathComponent("stocknet").path, c = TestSupport.packageRoot.appendingPathComponent("examples/stocknet.toml").path
        let store = work.appendingPathComponent("store").path
        // The lexicon scorer and a short search keep this under a minute; docs/real-data.md runs the model.
        let environment = ["CONVICTION_SCORING_SCORER": "lexicon", "CONVICTION_TRAINING_TRIALS": "5"]
        let commands = [
            ["ingest", "replay", "--data-dir", store, "--config", c, s + "/tweet/raw/AAPL", s + "/tweet/raw/MSFT"],
            ["features", "import-bars", "--data-dir", store, "--config", c, "--frequency", "1d", "--symbol", "AAPL", s + "/price/raw/AAPL.csv"],
            ["features", "import-bars", "--data-dir", store, "--config", c, "--frequency", "1d", "--symbol", "MSFT", s + "/price/raw/MSFT.csv"],
            ["pipeline", "--data-dir", store, "--config", c, "--symbols", "AAPL,MSFT", "--algorithm", "xgboost", "--twitter-sentiment", "--include-sentiment"],
        ]
        for command in commands {
            let result = try TestSupport.conviction(command, environment: environment, unset: ["CONVICTION_DATA_SOURCE"])
            #expect(result.status == 0, "\(command[0]) \(command[1]): \(result.stderr.suffix(2000))")
            #expect(!result.stdout.contains("missing trading day"), "the calendar knows Sandy: \(result.stdout)")
        }
        let files = try FileManager.default.subpathsOfDirectory(atPath: store)
        #expect(!files.contains { $0.hasPrefix("sim/") } && !files.contains { $0.hasPrefix("market/bars_1m") && $0.hasSuffix(".parquet") })
        let run = try #require(files.first { $0.hasSuffix("metrics.json") }.map { (store + "/" + $0 as NSString).deletingLastPathComponent })
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/metrics.json"))) as? [String: Any])
        let test = try #require(metrics["test"] as? [String: Any])
        for model in ["baseline", "with_sentiment"] {
            let m = try #require(test[model] as? [String: Any])
            #expect(Set(m.keys).isSuperset(of: ["accuracy", "mcc", "auc", "n"]), "\(m)")
        }
        #expect(metrics["delta_auc"] is Double && metrics["p_value"] is Double)
        let predictions = try String(contentsOfFile: run + "/test_predictions.csv", encoding: .utf8).split(separator: "\n")
        #expect(predictions.first == "date,symbol,label,baseline_prob,with_sentiment_prob")
        #expect(predictions.count - 1 == (test["baseline"] as? [String: Any])?["n"] as? Int)
        #expect(predictions.dropFirst().allSatisfy { $0.hasPrefix("2015-1") }, "only the test period")
        let report = try String(contentsOfFile: run + "/report.md", encoding: .utf8)
        #expect(report.contains("StockNet | 58.23%") && report.contains("indicative"))
    }
}
