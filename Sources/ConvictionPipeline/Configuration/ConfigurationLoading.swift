import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    /// Every key, section by section: the order of `conviction config init`.
    static let keys: [Key] = dataKeys + ingestKeys + scoringKeys + featuresKeys + awsKeys + monitoringKeys + trainingKeys + sagemakerKeys

    /// Keys that were replaced: a file that still uses one gets told what to write instead.
    static let retiredKeys = [
        "ingest.source": "ingest.source was replaced by data.source (\"stored\", or \"simulator\" for the demo) and simulation.delivery (\"stream\" or \"replay\")",
    ]

    // MARK: - Loading

    /// Applies a configuration file. Unknown keys and bad values are errors naming the key and line.
    public mutating func apply(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Error(description: "\(path): cannot read the configuration file") }
        try apply(text: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Applies configuration text (TOML) that came from `source`, e.g. a batch manifest's snapshot.
    public mutating func apply(text: String, source path: String) throws {
        let document: TOMLDocument
        do { document = try TOMLDocument(parsing: text, file: path) } catch { throw Error(description: error.description) }
        for (name, entry) in document.entries {
            if let retired = Self.retiredKeys[name] { throw Error(description: "\(path):\(entry.line): \(retired)") }
            guard let key = Self.keys.first(where: { $0.name == name }) else {
                let suggestion = Self.keys.map(\.name).min { Self.distance($0, name) < Self.distance($1, name) }.map { " (did you mean \($0)?)" } ?? ""
                throw Error(description: "\(path):\(entry.line): unknown key \(name)\(suggestion)")
            }
            do { try key.set(&self, entry.value) } catch {
                throw Error(description: "\(path):\(entry.line): \(name): \(error.message)")
            }
        }
    }

    /// Applies `CONVICTION_<SECTION>_<KEY>` variables, e.g. `CONVICTION_SIMULATION_SIGNAL=0`.
    public mutating func apply(environment: [String: String]) throws {
        for (name, retired) in Self.retiredKeys where environment[Self.environmentName(name)] != nil {
            throw Error(description: "environment variable \(Self.environmentName(name)): \(retired)")
        }
        for key in Self.keys {
            let variable = Self.environmentName(key.name)
            guard let raw = environment[variable] else { continue }
            try set(key.name, raw: raw, origin: "environment variable \(variable)")
        }
    }

    /// Sets one key from text as a user would type it in the file or on the command line.
    public mutating func set(_ name: String, raw: String, origin: String) throws {
        if let retired = Self.retiredKeys[name] { throw Error(description: "\(origin): \(retired)") }
        guard let key = Self.keys.first(where: { $0.name == name }) else { throw Error(description: "\(origin): unknown key \(name)") }
        // Text from the environment or a flag: a TOML value where it reads as one of the key's
        // type, else a bare word for a string key, or a comma list for an array key.
        var value = TOMLDocument.value(parsing: raw)
        switch (key.get(self), value) {
        case (.string, .string?), (.array, .array?): break
        case (.string, _): value = .string(raw)
        case (.array, _): value = .array(raw.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        default: break
        }
        do { try key.set(&self, value ?? .string(raw)) } catch {
            throw Error(description: "\(origin): \(name): \(error.message)")
        }
    }

    static func environmentName(_ key: String) -> String {
        "CONVICTION_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Checks values that depend on each other.
    public func validate() throws {
        if let start = training.testStart {
            if let end = training.testEnd, end < start {
                throw Error(description: "training.test_end: \(end.isoString) is before training.test_start \(start.isoString)")
            }
            if let validation = training.validationStart, validation >= start {
                throw Error(description: "training.validation_start: \(validation.isoString) must be before training.test_start \(start.isoString)")
            }
        } else if training.validationStart != nil || training.testEnd != nil || training.trainStart != nil {
            throw Error(description: "training.train_start, training.validation_start and training.test_end need training.test_start (fixed-date evaluation)")
        }
        if features.frequency == .daily && simulates {
            throw Error(description: "features.frequency = \"1d\" reads imported daily bars; the simulator makes 1-minute bars (use data.source = \"stored\")")
        }
        if features.frequency == .minute, features.labelHorizonBars * features.barMinutes >= 390 {
            throw Error(description: "features.label_horizon_bars: \(features.labelHorizonBars) bars of \(features.barMinutes) minutes do not fit in a session")
        }
        if simulates, !training.isFixedDate, simulation.sessions < training.folds + 1 {
            throw Error(description: "simulation.sessions: \(simulation.sessions) sessions are too few for \(training.folds) walk-forward folds (need at least \(training.folds + 1))")
        }
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]; row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
