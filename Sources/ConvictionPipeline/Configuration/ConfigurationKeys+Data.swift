import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let dataKeys: [Key] = [
        Key(name: "data.dir", help: "Store root folder (relative to the working directory).",
            get: { .string($0.dataDir) }, set: { c, v throws(ValueError) in c.dataDir = try string(v) }),
        Key(name: "data.source", help: "Where posts, bars and news come from: stored (what was ingested, imported or streamed into the store) or simulator (the embedded market simulator writes them first; the demo only). A store never mixes the two.",
            get: { .string($0.dataSource.rawValue) }, set: { c, v throws(ValueError) in c.dataSource = try choice(v) }),
        Key(name: "data.catalog", help: "Local catalog file; empty = <data.dir>/catalog.sqlite (for s3:// a cache in .conviction-cache/).",
            get: { .string($0.catalogPath) }, set: { c, v throws(ValueError) in c.catalogPath = try string(v) }),
        Key(name: "universe.symbols", help: "Symbols to ingest, score and model.",
            get: { .array($0.symbols.map { .string($0.rawValue) }) },
            set: { c, v throws(ValueError) in
                let list = try strings(v)
                guard !list.isEmpty else { throw ValueError(message: "needs at least one symbol") }
                for s in list where s.isEmpty || !s.allSatisfy({ $0.isLetter }) { throw ValueError(message: "\(s.debugDescription) is not a ticker") }
                c.symbols = list.map(Symbol.init)
            }),
        Key(name: "universe.keywords", help: "Financial keywords (whole words): posts about ingest.keyword_symbols need one, in the stream rules and the client filter.",
            get: { .array($0.keywords.map { .string($0) }) },
            set: { c, v throws(ValueError) in
                let list = try strings(v)
                for k in list where k.isEmpty || !k.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                    throw ValueError(message: "\(k.debugDescription) is not a single ASCII word")
                }
                c.keywords = list.map { $0.lowercased() }
            }),
        Key(name: "universe.aliases", help: "Former or alternative tickers as \"OLD=SYMBOL\": their posts are stored under SYMBOL (META was FB until 2022; GOOG=GOOGL is a choice, they are different share classes).",
            get: { .array($0.aliases.map { "\($0.key)=\($0.value)" }.sorted().map { .string($0) }) },
            set: { c, v throws(ValueError) in
                var aliases: [Symbol: Symbol] = [:]
                for entry in try strings(v) {
                    let parts = entry.split(separator: "=", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isLetter) }) else {
                        throw ValueError(message: "\(entry.debugDescription) is not OLD=SYMBOL, e.g. \"FB=META\"")
                    }
                    aliases[Symbol(parts[0])] = Symbol(parts[1])
                }
                c.aliases = aliases
            }),
        Key(name: "simulation.delivery", help: "How the simulator's posts reach the raw store: stream (published by the local X API server and streamed through the real X client) or replay (replayed directly).",
            get: { .string($0.simulationDelivery.rawValue) }, set: { c, v throws(ValueError) in c.simulationDelivery = try choice(v) }),
        Key(name: "simulation.seed", help: "Seed: the same seed and settings give byte-identical data.",
            get: { .integer(Int($0.simulation.seed)) }, set: { c, v throws(ValueError) in c.simulation.seed = UInt64(try int(v, 0...Int.max)) }),
        Key(name: "simulation.start", help: "First calendar day (YYYY-MM-DD); the first session is on or after it.",
            get: { .string($0.simulation.start.isoString) }, set: { c, v throws(ValueError) in c.simulation.start = try requiredDate(v) }),
        Key(name: "simulation.sessions", help: "Trading sessions to simulate.",
            get: { .integer($0.simulation.sessions) }, set: { c, v throws(ValueError) in c.simulation.sessions = try int(v, 1...2000) }),
        Key(name: "simulation.signal", help: "How strongly post sentiment leads returns: 0 = not at all, 1 = default.",
            get: { .float($0.simulation.signal) }, set: { c, v throws(ValueError) in c.simulation.signal = try double(v, 0...20) }),
        Key(name: "simulation.post_rate", help: "Multiplier on simulated post volume.",
            get: { .float($0.simulation.postRate) }, set: { c, v throws(ValueError) in c.simulation.postRate = try double(v, 0.01...50) }),
    ]
}
