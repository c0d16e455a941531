import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionPipeline
import ConvictionTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(10))) struct ConfigurationTests {
    func write(_ text: String) -> String {
        let path = TestSupport.temporaryDirectory("config").appendingPathComponent("conviction.toml").path
        if !FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) { Issue.record("could not write \(path)") }
        return path
    }

    @Test func readsValuesFromTheFile() throws {
        let path = write("""
        # comment
        [universe]
        symbols = ["AAPL", "tsla"]   # trailing comment
        [simulation]
        signal = 0
        sessions = 30
        [training]
        folds = 3
        learning_rate = 0.1
        """)
        var c = ConvictionConfiguration()
        try c.apply(file: path)
        #expect(c.symbols == [Symbol("AAPL"), Symbol("TSLA")])
        #expect(c.simulation.signal == 0 && c.simulation.sessions == 30)
        #expect(c.training.folds == 3 && c.training.learningRate == 0.1)
    }

    @Test(arguments: [
        ("[training]\nfold = 3\n", ":2: unknown key training.fold (did you mean training.folds?)"),
        ("[simulation]\n\nsignal = \"strong\"\n", ":3: simulation.signal: expected a number"),
        ("[training]\nfolds = 0\n", ":2: training.folds: 0 is out of range 1...50"),
        ("[simulation]\nstart = \"2026-02-30\"\n", ":2: simulation.start: \"2026-02-30\" is not a YYYY-MM-DD date"),
        ("[universe\n", ":1: Error while parsing table header: expected ']', saw '\\n'"),
        ("[data]\ndir = data\n", ":2: data.dir: Error while parsing value: could not determine value type (strings need double quotes: dir = \"data\")"),
        ("[training]\nfolds = 2\nfolds = 3\n", ":3: training.folds: Error while parsing key-value pair: cannot redefine existing integer 'folds'"),
        ("[training]\nfolds = 3\n\n[training]\nfolds = 4\n", ":5: training.folds: Error while parsing key-value pair: cannot redefine existing integer 'folds'"),
        ("[training]\nsearch_max_depth = [\n  2,\n  \"deep\",\n]\n", ":2: training.search_max_depth: expected a number"),
    ])
    func errorsNameTheKeyAndTheLine(_ example: (String, String)) throws {
        let path = write(example.0)
        var c = ConvictionConfiguration()
        #expect { try c.apply(file: path) } throws: { error in
            "\(error)" == path + example.1 || { print("got: \(error)"); return false }()
        }
    }

    /// The file is TOML 1.0 (TOMLKit): arrays over several lines, literal strings, bare dates,
    /// dotted keys and inline tables all read.
    @Test func anyTOMLSpellingOfAValueReads() throws {
        let path = write("""
        universe.symbols = [
          'AAPL',   # literal strings
          "MSFT",
        ]
        [training]
        test_start = 2015-10-01
        validation_start = "2015-07-01"
        [simulation]
        sessions = 1_000
        """)
        var c = ConvictionConfiguration()
        try c.apply(file: path)
        #expect(c.symbols == [Symbol("AAPL"), Symbol("MSFT")])
        #expect(c.training.testStart?.isoString == "2015-10-01" && c.training.validationStart?.isoString == "2015-07-01")
        #expect(c.simulation.sessions == 1000)
    }

    @Test func environmentOverridesTheFile() throws {
        var c = ConvictionConfiguration()
        try c.apply(file: write("[simulation]\nsignal = 2.0\n"))
        try c.apply(environment: ["CONVICTION_SIMULATION_SIGNAL": "0", "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,MSFT"])
        #expect(c.simulation.signal == 0)
        #expect(c.symbols.map(\.rawValue) == ["AAPL", "MSFT"])
        #expect { try c.apply(environment: ["CONVICTION_TRAINING_FOLDS": "many"]) } throws: {
            "\($0)".contains("CONVICTION_TRAINING_FOLDS") && "\($0)".contains("expected an integer")
        }
    }

    @Test func theCommentedDefaultFileReadsBackToTheDefaults() throws {
        let text = ConvictionConfiguration().renderTOML()
        #expect(text.contains("# Trading sessions to simulate."))
        var c = ConvictionConfiguration()
        c.simulation.signal = 3
        try c.apply(file: write(text))
        #expect(c.renderResolved() == ConvictionConfiguration().renderResolved())
    }

    /// Files written before the settings moved to their stages still load, to the same values:
    /// `Tests/Fixtures/configuration/conviction-0.x.toml` is `conviction config init` as it was
    /// (every key, and the `[scoring]` table split in two as that version wrote it), and the
    /// examples are what users copy.
    @Test(arguments: ["Tests/Fixtures/configuration/conviction-0.x.toml", "examples/stocknet.toml", "examples/demo.toml"])
    func earlierAndExampleFilesStillLoad(_ path: String) throws {
        var c = ConvictionConfiguration()
        try c.apply(file: TestSupport.packageRoot.appendingPathComponent(path).path)
        try c.validate()
        if path.hasSuffix("0.x.toml") { #expect(c.renderResolved() == ConvictionConfiguration().renderResolved()) }
        if path.hasSuffix("stocknet.toml") {
            #expect(c.features.frequency == .daily && c.aliases[Symbol("GOOG")] == Symbol("GOOGL"))
        }
    }

    @Test func crossFieldValidation() {
        var c = ConvictionConfiguration.demo
        c.simulation.sessions = 3
        #expect { try c.validate() } throws: { "\($0)".contains("simulation.sessions") }
        var fixed = ConvictionConfiguration()
        fixed.training.testStart = CivilDate(iso: "2015-10-01")
        fixed.training.validationStart = CivilDate(iso: "2015-10-01")
        #expect { try fixed.validate() } throws: { "\($0)".contains("training.validation_start") }
        var daily = ConvictionConfiguration.demo
        daily.features.frequency = .daily
        #expect { try daily.validate() } throws: { "\($0)".contains("features.frequency") }
    }
}

@Suite(.timeLimit(.minutes(10))) struct SearchSpaceConfigurationTests {
    @Test func searchRangesComeFromTheConfiguration() throws {
        let dir = TestSupport.temporaryDirectory("space")
        let file = dir.appendingPathComponent("conviction.toml")
        try Data("[training]\ntrials = 12\nsearch_max_depth = [3, 5]\nsearch_learning_rate = [0.02, 0.1]\n".utf8).write(to: file)
        var c = ConvictionConfiguration()
        try c.apply(file: file.path)
        #expect(c.training.search.trials == 12)
        let depth = try #require(c.training.search.space.parameters.first { $0.name == "max_depth" })
        #expect(depth.low == 3 && depth.high == 5 && depth.integer)
        let eta = try #require(c.training.search.space.parameters.first { $0.name == "learning_rate" })
        #expect(eta.low == 0.02 && eta.high == 0.1 && eta.log)
        try Data("[training]\nsearch_max_depth = [5, 3]\n".utf8).write(to: file)
        var bad = ConvictionConfiguration()
        let error = try #require(throws: (any Error).self) { try bad.apply(file: file.path) }
        #expect("\(error)".contains(":2: training.search_max_depth"), "\(error)")
    }
}
