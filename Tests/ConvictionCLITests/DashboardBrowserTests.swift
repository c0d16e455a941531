import ConvictionTesting
import Foundation
import Testing

let headlessChromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// The dashboard in a real browser (Debian's headless Chromium) over a store built by the real
/// commands: simulated posts plus posts carrying HTML and script payloads, replayed and scored.
/// Screenshots go to `.build/test-artifacts/`.
@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: headlessChromium != nil, "needs chromium (make setup installs it)"),
       .enabled(if: TestSupport.pythonHas("pyarrow"), "the counts are computed with the project's pyarrow (make setup)"))
struct DashboardBrowserTests {
    static let chromium = headlessChromium
    static let artifacts = TestSupport.packageRoot.appendingPathComponent(".build/test-artifacts")
    static let day = "2026-01-02"
    static let payloads = ["<script>document.body.setAttribute('data-pwned','script')</script>",
                           "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">",
                           "</td></tr></table><svg onload=\"document.body.setAttribute('data-pwned','svg')\">"]

    func browser(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.run(Self.chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + TestSupport.temporaryDirectory("chromium").path] + arguments)
    }

    @Test func theWidgetShowsTheStoresCountsAndInjectedScriptsDoNotRun() throws {
        let python = try #require(TestSupport.python)
        let work = TestSupport.temporaryDirectory("dashboard-browser")
        let data = work.appendingPathComponent("data").path
        let environment = ["CONVICTION_TRAINING_FOLDS": "2", "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,TSLA", "CONVICTION_SCORING_SCORER": "lexicon"]
        // Real-data path (no simulator): the day's 1-minute bars, imported.
        let bars = work.appendingPathComponent("bars.csv")
        var csv = "timestamp,symbol,open,high,low,close,volume\n"
        for symbol in ["AAPL", "TSLA"] {
            for minute in 0..<390 {
                let clock = String(format: "%02d:%02d", 9 + (30 + minute) / 60, (30 + minute) % 60)
                let price = 100 + Double(minute % 17) * 0.1
                csv += "\(Self.day) \(clock),\(symbol),\(price),\(price + 0.2),\(price - 0.2),\(price + 0.1),\(1000 + minute)\n"
            }
        }
        try Data(csv.utf8).write(to: bars)
        // Posts whose text is markup, in an archive of X API v2 lines.
        let archive = work.appendingPathComponent("payloads.jsonl")
        let lines = try Self.payloads.enumerated().map { n, payload -> String in
            let object: [String: Any] = ["data": ["id": String(1_990_000_000_000_000_000 + n), "text": "$AAPL \(payload) rally", "created_at": "\(Self.day)T23:59:5\(n).000Z",
                                                  "author_id": "7", "lang": "en", "entities": ["cashtags": [["start": 0, "end": 5, "tag": "AAPL"]]],
                                                  "public_metrics": ["retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0]]]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        // And ordinary posts through the session, so the widget has bars to draw.
        let ordinary = try (0..<60).map { n -> String in
            let object: [String: Any] = ["data": ["id": String(1_991_000_000_000_000_000 + n), "text": "$AAPL buying calls \(n)",
                                                  "created_at": String(format: "%@T%02d:%02d:00.000Z", Self.day, 15 + n / 12, (n % 12) * 5),
                                                  "author_id": String(100 + n), "lang": "en", "entities": ["cashtags": [["start": 0, "end": 5, "tag": "AAPL"]]]]]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try Data(((lines + ordinary).joined(separator: "\n") + "\n").utf8).write(to: archive)
        for command in [["features", "import-bars", bars.path], ["ingest", "replay", archive.path], ["score"]] {
            let result = try TestSupport.conviction(command + ["--data-dir", data], environment: environment)
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        let server = try BackgroundCommand(["dashboard", "--port", "0", "--data-dir", data], environment: environment, label: "dashboard")
        defer { server.signal(SIGTERM) }
        #expect(server.waitFor(timeout: 30) { $0.stdout.contains("serving") }, "\(server.stderr)")
        let base = try #require(server.stdout.split(separator: " ").first { $0.hasPrefix("http://") }.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) })
        let page = base + "?symbol=AAPL&date=\(Self.day)"

        let dom = try browser(["--dump-dom", page])
        #expect(dom.status == 0 && dom.stdout.contains("data-widget=\"tweet-volume\""), "\(dom.stderr)")
        // No payload ran: the body carries no attribute they would set, and their text shows as text.
        #expect(!dom.stdout.contains("data-pwned=\""), "an injected script or handler ran")
        #expect(dom.stdout.contains("$AAPL &lt;script&gt;document.body.setAttribute('data-pwned','script')&lt;/script&gt; rally"), "the payload shows as text")
        #expect(!dom.stdout.contains("<img src=\"x\""), "no element was injected")

        // The widget's bars, as the browser has them, equal the store's counts.
        let expected = try TestSupport.run(python, ["-c", """
            import glob, gzip, json, sys, collections, datetime, pyarrow.parquet as pq
            day = datetime.datetime.fromisoformat(sys.argv[2] + "T00:00:00+00:00").timestamp() * 1000
            labels = {}
            for path in glob.glob(sys.argv[1] + "/scores/dt=" + sys.argv[2] + "/symbol=AAPL/*.parquet"):
                t = pq.read_table(path).to_pydict()
                for pid, label in zip(t["post_id"], t["label"]): labels[pid] = label
            counts = collections.Counter()
            for path in glob.glob(sys.argv[1] + "/raw/posts/dt=" + sys.argv[2] + "/symbol=AAPL/*.jsonl.gz"):
                for line in gzip.open(path):
                    post = json.loads(line)["payload"]["data"]
                    created = datetime.datetime.fromisoformat(post["created_at"].replace("Z", "+00:00")).timestamp() * 1000
                    counts["%d|%s" % ((created - day) // 300000, labels.get(post["id"], "unscored"))] += 1
            print(json.dumps(counts))
            """, data, Self.day])
        let want = try JSONSerialization.jsonObject(with: Data(expected.stdout.utf8)) as? [String: Int] ?? [:]
        #expect(want.values.reduce(0, +) > 50, "\(expected.stdout)\(expected.stderr)")
        #expect(Self.drawnCounts(dom.stdout, day: Self.day) == want)

        // Screenshots, for people.
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        for (name, url) in [("dashboard-AAPL", page), ("dashboard-TSLA", base + "?symbol=TSLA&date=\(Self.day)")] {
            let path = Self.artifacts.appendingPathComponent("\(name).png").path
            let shot = try browser(["--window-size=1280,1800", "--screenshot=\(path)", url])
            #expect(shot.status == 0 && FileManager.default.fileExists(atPath: path), "\(shot.stderr)")
        }
    }

    /// `"<bar index>|<label>" -> count` from the widget's rectangles.
    static func drawnCounts(_ html: String, day: String) -> [String: Int] {
        guard let widget = html.components(separatedBy: "data-widget=\"tweet-volume\"").dropFirst().first?.components(separatedBy: "</svg>").first else { return [:] }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let dayStart = formatter.date(from: day + "T00:00:00.000Z")!
        var counts: [String: Int] = [:]
        for group in widget.components(separatedBy: "<g data-bar=\"").dropFirst() {
            guard let start = formatter.date(from: String(group.prefix { $0 != "\"" })) else { continue }
            let bar = Int(start.timeIntervalSince(dayStart) / 300)
            for rect in group.components(separatedBy: "data-label=\"").dropFirst() {
                let label = String(rect.prefix { $0 != "\"" })
                counts["\(bar)|\(label)"] = Int(rect.components(separatedBy: "data-count=\"")[1].prefix { $0 != "\"" })
            }
        }
        return counts
    }
}
