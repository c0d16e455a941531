import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// Runs the real `conviction` binary, as a user would.
@Suite(.timeLimit(.minutes(10))) struct CommandLineTests {
    @Test(arguments: ["simulate", "ingest", "score", "features", "train", "pipeline", "runs", "dashboard", "secrets", "config"])
    func everySubcommandExplainsItselfWithAnExample(_ command: String) throws {
        let result = try TestSupport.conviction([command, "--help"])
        #expect(result.status == 0)
        let help = result.stdout
        #expect(help.contains("Example"), "\(command) --help: \(help)")
    }

    @Test func configInitWritesAFileThatChecksClean() throws {
        let dir = TestSupport.temporaryDirectory("cli-config")
        let path = dir.appendingPathComponent("conviction.toml").path
        #expect(try TestSupport.conviction(["config", "init", "--output", path]).status == 0)
        let check = try TestSupport.conviction(["config", "check", "--config", path])
        #expect(check.status == 0 && check.stdout.contains("configuration OK"))
        let again = try TestSupport.conviction(["config", "init", "--output", path])
        #expect(again.status != 0 && again.stderr.contains("--force"))
    }

    @Test func configCheckNamesTheKeyAndLine() throws {
        let path = TestSupport.temporaryDirectory("cli-config").appendingPathComponent("bad.toml").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("[training]\nfolds = 3\nrounds = -1\n".utf8)))
        let result = try TestSupport.conviction(["config", "check", "--config", path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(path):3: training.rounds: -1 is out of range"), "\(result.stderr)")
    }

    @Test func environmentAndFlagsOverrideInOrder() throws {
        let result = try TestSupport.conviction(["config", "show", "--symbols", "aapl,msft"],
                                                environment: ["CONVICTION_SIMULATION_SIGNAL": "0.5", "CONVICTION_UNIVERSE_SYMBOLS": "TSLA"])
        #expect(result.stdout.contains("simulation.signal = 0.5"))
        #expect(result.stdout.contains("universe.symbols = [\"AAPL\", \"MSFT\"]"))
    }

    @Test func secretsCheckNeverPrintsValues() throws {
        let canary = "canary-\(UUID().uuidString)"
        let secret = "canary-secret-\(UUID().uuidString)"
        // Only the environment is asked (no AWS), with two of the five set and the rest absent.
        let result = try TestSupport.conviction(["secrets", "check"],
                                                environment: ["TWITTER_BEARER_TOKEN": canary, "TWITTER_API_SECRET": secret, "CONVICTION_SECRETS_SOURCE": "environment"],
                                                unset: ["TWITTER_API_KEY", "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_TOKEN_SECRET"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("TWITTER_BEARER_TOKEN: present (environment)"), "\(result.stdout)")
        #expect(result.stdout.contains("TWITTER_API_SECRET: present (environment)"), "\(result.stdout)")
        #expect(result.stdout.contains("TWITTER_API_KEY: missing"), "\(result.stdout)")
        #expect(result.stdout.contains("3 of 5 missing"), "\(result.stdout)")
        for value in [canary, secret] { #expect(!result.stdout.contains(value) && !result.stderr.contains(value)) }
    }

    @Test func malformedLineIsQuarantinedAndTheRunSucceeds() throws {
        let dir = TestSupport.temporaryDirectory("cli-ingest")
        let archive = dir.appendingPathComponent("posts.jsonl")
        let good = #"{"data":{"id":"10","text":"$AAPL breaking out","created_at":"2026-01-05T15:00:00.000Z","author_id":"1","lang":"en"},"matching_rules":[{"id":"1","tag":"AAPL"}]}"#
        try Data((good + "\n{\"data\": oops\n").utf8).write(to: archive)
        let result = try TestSupport.conviction(["ingest", "--data-dir", dir.appendingPathComponent("data").path, archive.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("quarantined: malformed 1"))
        let quarantine = try FileManager.default.subpathsOfDirectory(atPath: dir.appendingPathComponent("data/raw/quarantine").path)
        #expect(quarantine.contains { $0.hasSuffix(".jsonl.gz") })
    }

    @Test func truncatedArchiveFailsTheRunWithAClearError() throws {
        let dir = TestSupport.temporaryDirectory("cli-truncated")
        let archive = dir.appendingPathComponent("posts.jsonl.gz")
        let line = #"{"data":{"id":"ID","text":"$TSLA puts, weak","created_at":"2026-01-05T15:00:00.000Z","author_id":"1"},"matching_rules":[{"id":"1","tag":"TSLA"}]}"#
        let text = (1...2000).map { line.replacingOccurrences(of: "ID", with: String($0)) }.joined(separator: "\n") + "\n"
        // gzip through the system tool: an independent writer.
        let plain = dir.appendingPathComponent("posts.jsonl")
        try Data(text.utf8).write(to: plain)
        _ = try TestSupport.run("/bin/gzip", ["-k", plain.path])
        let full = try Data(contentsOf: archive)
        try full.prefix(full.count / 2).write(to: archive)
        let result = try TestSupport.conviction(["ingest", "--data-dir", dir.appendingPathComponent("data").path, archive.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("posts.jsonl.gz") && result.stderr.contains("truncated"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: archive.path), "the input is never removed")
    }

    @Test func thePlansSmokeTestDryRunChangesNothing() throws {
        let dir = TestSupport.temporaryDirectory("cli-dry").appendingPathComponent("data")
        let demo = TestSupport.packageRoot.appendingPathComponent("examples/demo.toml").path
        let result = try TestSupport.conviction(["pipeline", "--algorithm", "xgboost", "--twitter-sentiment", "--include-sentiment",
                                                 "--dry-run", "--config", demo, "--data-dir", dir.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("plan: simulate 11 symbols"))
        #expect(result.stdout.contains("nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    @Test func productionDefaultsNeverSimulate() throws {
        let dir = TestSupport.temporaryDirectory("cli-default").appendingPathComponent("data")
        let result = try TestSupport.conviction(["pipeline", "--twitter-sentiment", "--include-sentiment", "--dry-run", "--data-dir", dir.path],
                                                unset: ["CONVICTION_DATA_SOURCE"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("plan: simulate") && result.stderr.contains("data from the store"), "\(result.stderr)")
        // The retired key says what replaced it.
        let retired = try TestSupport.conviction(["config", "show"], environment: ["CONVICTION_INGEST_SOURCE": "emulator"])
        #expect(retired.status != 0 && retired.stderr.contains("data.source"), "\(retired.stderr)")
    }

    /// Errors with a code exit with its status, and `--help` lists them.
    @Test func errorCodesBecomeTheirExitStatuses() throws {
        let dir = TestSupport.temporaryDirectory("cli-exit")
        let config = dir.appendingPathComponent("bad.toml").path
        #expect(FileManager.default.createFile(atPath: config, contents: Data("[training]\nfolds = \"many\"\n".utf8)))
        let badConfig = try TestSupport.conviction(["train", "--config", config, "--data-dir", dir.appendingPathComponent("d").path])
        #expect(badConfig.status == ErrorCode.configuration.exitStatus && badConfig.stderr.contains("training.folds"), "\(badConfig.stderr)")
        let missing = try TestSupport.conviction(["ingest", "replay", "--data-dir", dir.appendingPathComponent("d").path, dir.appendingPathComponent("none.jsonl").path])
        #expect(missing.status == ErrorCode.missingInput.exitStatus && missing.stderr.contains("no such archive"), "\(missing.stderr)")
        #expect(try TestSupport.conviction(["--no-such-flag"]).status == 64)
        let help = try TestSupport.conviction(["--help"]).stdout
        for code in ErrorCode.allCases { #expect(help.contains("\(code.exitStatus) \(code.rawValue)"), "\(code)") }
    }

    @Test func unknownFlagsAndBadValuesExitNonZero() throws {
        #expect(try TestSupport.conviction(["pipeline", "--algorithm", "lightgbm", "--dry-run"]).status != 0)
        let bad = try TestSupport.conviction(["simulate", "--signal", "-3", "--dry-run"])
        #expect(bad.status != 0 && bad.stderr.contains("simulation.signal"))
    }
}
