// Benchmark harness (make bench). `generate` writes a synthetic scored-post set as Parquet;
// `sentiment` computes every sentiment feature from it and prints timings, peak memory and
// column checksums that benchmarks/sentiment_polars.py reproduces with polars.
import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import ConvictionStore
import Foundation
import Synchronization

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

MemoryTuning.apply()
let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: ConvictionBenchmarks generate DIR [POSTS] | sentiment DIR")
    exit(64)
}
let dir = URL(fileURLWithPath: arguments[2])
let symbols = Symbol.universe
let sessions = TradingCalendar().sessions(from: CivilDate(year: 2026, month: 1, day: 2), count: 60)

switch arguments[1] {
case "parquet-load":
    // Reads one Parquet file (e.g. written by polars or pyarrow with their defaults), best of 3;
    // from the path, as pl.read_parquet does, so reading the file counts on both sides.
    var best = Double.infinity
    var rows = 0
    for _ in 0..<3 {
        let start = Date()
        let table = try ParquetReader.read(contentsOf: dir)
        best = min(best, Date().timeIntervalSince(start))
        rows = table.rowCount
    }
    print("{\"load_seconds\": \(best), \"rows\": \(rows), \"peak_rss_mb\": \(peakRSSMegabytes())}")
case "generate":
    let total = arguments.count > 3 ? Int(arguments[3])! : 5_000_000
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    var rng = SeededGenerator(seed: 2026, stream: "bench")
    let start = sessions.first!.open - 6 * Timestamps.hour, end = sessions.last!.close
    var sym: [String?] = [], time: [Int64?] = [], pol: [Double?] = [], fol: [Int64?] = [], eng: [Int64?] = [], lab: [Int64?] = []
    for _ in 0..<total {
        let s = symbols[Int(rng.next() % UInt64(symbols.count))]
        let p = max(-1, min(1, 0.4 * rng.normal()))
        sym.append(s.rawValue); time.append(start + Int64(rng.uniform() * Double(end - start)))
        pol.append(p); fol.append(Int64(exp(6 + 1.8 * rng.normal()))); eng.append(Int64(rng.poisson(2)))
        lab.append(p > 0.3 ? 1 : (p < -0.3 ? -1 : 0))
    }
    let table = ParquetTable(columns: [
        ParquetColumn(name: "symbol", nullable: false, values: .string(sym)), ParquetColumn(name: "time", nullable: false, values: .int64(time)),
        ParquetColumn(name: "polarity", nullable: false, values: .double(pol)), ParquetColumn(name: "followers", nullable: false, values: .int64(fol)),
        ParquetColumn(name: "engagement", nullable: false, values: .int64(eng)), ParquetColumn(name: "label", nullable: false, values: .int64(lab)),
    ])
    try ParquetWriter.encode(table).write(to: dir.appendingPathComponent("posts.parquet"))
    // Decision times: every 5-minute bar close of the 60 sessions.
    let times = sessions.flatMap { s in stride(from: s.open + 5 * Timestamps.minute, through: s.close, by: Int(5 * Timestamps.minute)).map { Int64?($0) } }
    try ParquetWriter.encode(ParquetTable(columns: [ParquetColumn(name: "t", nullable: false, values: .int64(times))]))
        .write(to: dir.appendingPathComponent("times.parquet"))
    print("generated \(total) posts over \(symbols.count) symbols and \(times.count) decision times per symbol in \(dir.path)")

case "sentiment":
    try sentimentBenchmark(dir)

case "xgboost":
    // The same matrix and parameters as benchmarks/xgboost_python.py: 200,000 x 80, 200 rounds, depth 6, hist.
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let rows = 200_000, columns = 80
    var rng = SeededGenerator(seed: 11, stream: "xgboost-bench")
    var x = [Float](repeating: 0, count: rows * columns), y = [Float](repeating: 0, count: rows)
    for r in 0..<rows {
        var signal = 0.0
        for c in 0..<columns {
            let v = rng.normal()
            x[r * columns + c] = rng.chance(0.02) ? .nan : Float(v)
            if c < 10 { signal += v * Double(10 - c) / 30 }
        }
        y[r] = signal + rng.normal() > 0 ? 1 : 0
    }
    try x.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("x.f32")) }
    try y.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("y.f32")) }
    let library = try XGBoostLibrary.locate()
    let parameters = [("objective", "binary:logistic"), ("tree_method", "hist"), ("max_depth", "6"), ("eta", "0.1"),
                      ("nthread", "2"), ("seed", "0"), ("base_score", "0.5"), ("verbosity", "0")]
    let start = Date()
    let matrix = try DMatrix(library: library, values: x, rows: rows, columns: columns, labels: y)
    let booster = try Booster(library: library, parameters: parameters, training: matrix)
    try booster.train(on: matrix, rounds: 200)
    let seconds = Date().timeIntervalSince(start)
    let predictions = try booster.predict(matrix)
    try predictions.withUnsafeBytes { try Data($0).write(to: dir.appendingPathComponent("swift_predictions.f32")) }
    try booster.save(to: dir.appendingPathComponent("swift_model.json").path)
    print(String(decoding: try JSONSerialization.data(withJSONObject: ["train_seconds": seconds, "rows": rows, "columns": columns,
                                                                         "xgboost": library.versionString]), as: UTF8.self))

case "scoring":
    // scoring MODEL_FOLDER TEXTS.jsonl BATCH THREADS [OUT_PROBABILITIES]: one timed pass over every text
    // after a warm-up, as benchmarks/scoring_python.py does with the same file, model and settings.
    let model = arguments[2], textsPath = arguments[3]
    let batch = Int(arguments[4])!, threads = Int(arguments[5])!
    let texts = try String(contentsOfFile: textsPath, encoding: .utf8).split(separator: "\n")
        .map { try JSONDecoder().decode(String.self, from: Data($0.utf8)) }
    let scorer = try TransformerScorer(folder: model, options: ORTSessionOptions(intraOpThreads: threads, interOpThreads: 1), batchSize: batch)
    _ = try scorer.score(Array(texts.prefix(64)))
    let before = scorer.statistics
    let start = DispatchTime.now().uptimeNanoseconds
    let scored = try scorer.score(texts)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let after = scorer.statistics
    let run = after.runSeconds - before.runSeconds
    if arguments.count > 6 {
        var out = Data()
        for s in scored { out.append(contentsOf: [s.probabilities.negative, s.probabilities.neutral, s.probabilities.positive].map { Float($0) }.withUnsafeBytes { Data($0) }) }
        try out.write(to: URL(fileURLWithPath: arguments[6]))
    }
    let tokens = after.tokens - before.tokens, padded = after.paddedTokens - before.paddedTokens
    print(String(decoding: try JSONSerialization.data(withJSONObject: [
        "texts": texts.count, "seconds": seconds, "run_seconds": run, "outside_run_share": (seconds - run) / seconds,
        "texts_per_second": Double(texts.count) / seconds, "batch_invariant": scorer.batchInvariant,
        "mean_tokens": Double(tokens) / Double(texts.count), "mean_padded_width": Double(padded) / Double(texts.count),
        "peak_rss_mb": peakRSSMegabytes(), "onnxruntime": scorer.session.runtime.version]), as: UTF8.self))

case "replay":
    // replay ARCHIVE OUTDIR: the pipeline's archive replay (read, decompress, parse, filter, de-duplicate,
    // partition, compress, write atomically), timed as benchmarks/replay_python.py times the same work.
    let archive = arguments[2], out = URL(fileURLWithPath: arguments[3])
    let start = DispatchTime.now().uptimeNanoseconds
    let store = try LocalObjectStore(root: out)
    let ingestor = ReplayIngestor(store: store, symbols: Symbol.universe)
    let source = ReplayIngestor.Source.file(archive)
    _ = try await ingestor.inputHash(of: source)  // the catalog's unit hash, as the ingest task computes it
    let outcome = try await ingestor.replay(source)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let rss = peakRSSMegabytes()
    var partitions: [String: Int] = [:]
    for key in try await store.list(prefix: Dataset.rawPosts.rawValue + "/") {
        partitions[Partition.containing(key, in: .rawPosts)!.prefix, default: 0] += JSONLines.read(try await store.get(key), gzipped: true).lines.count
    }
    print(String(decoding: try JSONSerialization.data(withJSONObject: [
        "seconds": seconds, "accepted": outcome.accepted, "rejected": outcome.rejected, "partitions": partitions,
        "lines": outcome.accepted + outcome.rejected.values.reduce(0, +), "peak_rss_mb": rss]), as: UTF8.self))

default:
    print("unknown command \(arguments[1])")
    exit(64)
}

/// Every sentiment feature for the generated posts: load (the Parquet files from their paths) and
/// compute (group by symbol, then FeatureBuilder per symbol), timed apart. A function rather than
/// top-level code, whose globals carry dynamic exclusivity checks.
func sentimentBenchmark(_ dir: URL) throws {
    let loadStart = Date()
    let posts = try ParquetReader.read(contentsOf: dir.appendingPathComponent("posts.parquet"))
    let timesTable = try ParquetReader.read(contentsOf: dir.appendingPathComponent("times.parquet"))
    guard case .string(let sym) = posts.column("symbol")!.values, case .int64(let time) = posts.column("time")!.values,
          case .double(let pol) = posts.column("polarity")!.values, case .int64(let fol) = posts.column("followers")!.values,
          case .int64(let eng) = posts.column("engagement")!.values, case .int64(let lab) = posts.column("label")!.values,
          case .int64(let t) = timesTable.column("t")!.values,
          [sym.nullCount, time.nullCount, pol.nullCount, fol.nullCount, eng.nullCount, lab.nullCount, t.nullCount].allSatisfy({ $0 == 0 })
    else { fatalError("unexpected columns") }
    let times = t.values
    let loadSeconds = Date().timeIntervalSince(loadStart)

    let computeStart = Date()
    // Each post's group, then each group filled at its final size.
    var slot: [String: Int] = [:], names: [String] = []
    let group = (0..<posts.rowCount).map { i in
        let s = sym[i]!
        if let g = slot[s] { return g }
        slot[s] = names.count
        names.append(s)
        return names.count - 1
    }
    var sizes = [Int](repeating: 0, count: names.count)
    for g in group { sizes[g] += 1 }
    var groups = sizes.map { size in
        var observations: [SentimentObservation] = []
        observations.reserveCapacity(size)
        return observations
    }
    for i in 0..<posts.rowCount {
        groups[group[i]].append(SentimentObservation(time: time[i]!, polarity: pol[i]!, followers: Int(fol[i]!), engagement: Int(eng[i]!), label: Int(lab[i]!)))
    }
    // Symbols are independent: one per core at a time, as polars spreads its work over every core.
    let noNews = [Double?](repeating: nil, count: times.count)
    let filled = groups
    let perSymbol = Mutex([[[Double?]]](repeating: [], count: names.count))
    DispatchQueue.concurrentPerform(iterations: names.count) { g in
        let columns = FeatureBuilder.sentimentColumns(times: times, posts: filled[g], newsSentiment: noNews)
        perSymbol.withLock { $0[g] = columns }
    }
    let results = Dictionary(uniqueKeysWithValues: zip(names, perSymbol.withLock { $0 }))
    let computeSeconds = Date().timeIntervalSince(computeStart)

    // Checksums: per column, the sum of non-null values over all symbols, and the null count.
    var checksums: [String: [Double]] = [:]
    for (k, definition) in FeatureDefinition.sentiment.enumerated() {
        var sum = 0.0, nulls = 0.0
        for columns in results.values { for v in columns[k] { if let v { sum += v } else { nulls += 1 } } }
        checksums[definition.name] = [sum, nulls]
    }
    let summary: [String: Any] = ["load_seconds": loadSeconds, "compute_seconds": computeSeconds, "peak_rss_mb": peakRSSMegabytes(),
                                  "posts": posts.rowCount, "rows": times.count * results.count, "features": FeatureDefinition.sentiment.count,
                                  "checksums": checksums]
    print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]), as: UTF8.self))
}
