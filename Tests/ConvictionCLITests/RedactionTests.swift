import ConvictionTesting
import Foundation
import Testing

/// Plants canary secrets (X credentials, AWS keys, a session token), runs every command, and
/// searches everything they print and write for the canaries.
@Suite(.timeLimit(.minutes(10)), .enabled(if: TestSupport.motoEndpoint != nil && TestSupport.motoAuth != nil,
                                          "needs both moto_server stand-ins (S3, Secrets Manager): run through `make test`"))
struct RedactionTests {
    @Test func noSecretAppearsInAnyOutputOrFile() throws {
        let moto = try #require(TestSupport.motoEndpoint)
        let auth = try #require(TestSupport.motoAuth)
        let id = UUID().uuidString.prefix(8)
        let canaries = ["TWITTER_BEARER_TOKEN", "TWITTER_API_KEY", "TWITTER_API_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_TOKEN_SECRET",
                        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"].reduce(into: [String: String]()) { $0[$1] = "canary\(id)\($1.lowercased())" }
        let work = TestSupport.temporaryDirectory("canary")
        var environment = canaries
        environment["AWS_ACCESS_KEY_ID"] = "AKIACANARYTEST"
        environment["HOME"] = work.path
        environment["CONVICTION_SIMULATION_SESSIONS"] = "6"
        environment["CONVICTION_DATA_SOURCE"] = "simulator"
        environment["CONVICTION_UNIVERSE_SYMBOLS"] = "AAPL,TSLA"
        environment["CONVICTION_TRAINING_FOLDS"] = "2"
        environment["CONVICTION_DATA_CATALOG"] = work.appendingPathComponent("cache.sqlite").path

        environment["CONVICTION_AWS_ENDPOINT"] = moto
        environment["CONVICTION_AWS_CREATE_BUCKET"] = "true"
        environment["CONVICTION_SECRETS_SOURCE"] = "secretsmanager"
        environment["CONVICTION_SECRETS_SECRET_ID"] = "canary/\(id)"
        let stores = [work.appendingPathComponent("data").path, "s3://\(TestSupport.uniqueBucket("canary"))/data"]
        var transcript = ""
        for store in stores {
            let commands: [[String]] = [
                ["simulate"], ["ingest"], ["score"], ["features"], ["train"],
                ["pipeline", "--twitter-sentiment", "--include-sentiment"], ["runs"], ["dashboard", "--snapshot"],
                ["pipeline", "--dry-run", "--twitter-sentiment", "--include-sentiment"],
                ["secrets", "check"], ["secrets", "migrate"], ["secrets", "migrate"], ["secrets", "check"],
                ["config", "show"], ["config", "check"], ["config", "init", "--output", work.appendingPathComponent("c.toml").path, "--force"],
            ]
            for command in commands {
                let arguments = command.first == "config" && command.count > 1 && command[1] == "init" ? command : command + ["--data-dir", store]
                let result = try TestSupport.conviction(arguments, environment: environment)
                transcript += "$ \(command.joined(separator: " "))\n\(result.stdout)\n\(result.stderr)\n"
                #expect(result.status == 0, "\(command) on \(store): \(result.stderr)")
            }
        }
        // An error path: a wrong secret against the checking server.
        var bad = environment
        bad["CONVICTION_AWS_ENDPOINT"] = auth.endpoint
        bad["AWS_ACCESS_KEY_ID"] = auth.keyID
        let result = try TestSupport.conviction(["secrets", "check"], environment: bad, unset: ["AWS_SESSION_TOKEN"])
        #expect(result.status != 0 && result.stderr.contains("SignatureDoesNotMatch"), "\(result.stderr)")
        transcript += result.stdout + result.stderr
        #expect(transcript.contains("TWITTER_BEARER_TOKEN: present (secretsmanager:canary/\(id))"), "the migrated secret is read back from Secrets Manager")
        #expect(transcript.contains("$ runs\nrun id "), "runs lists the pipeline's run")
        for (name, value) in canaries {
            #expect(!transcript.contains(value), "\(name) leaked into command output")
        }
        // Every file the commands wrote, the catalog included.
        for case let path as String in FileManager.default.enumerator(atPath: work.path)! {
            guard let data = FileManager.default.contents(atPath: work.appendingPathComponent(path).path) else { continue }
            for (name, value) in canaries where data.range(of: Data(value.utf8)) != nil {
                Issue.record("\(name) leaked into \(path)")
            }
        }
    }
}
