import ConvictionTesting
import Foundation
import Testing

/// Plants canary secrets (X credentials, AWS keys, a session token), runs every command, and
/// searches everything they print and write for the canaries.
@Suite(.timeLimit(.minutes(10)), .enabled(if: TestSupport.motoEndpoint != nil && TestSupport.motoAuth != nil,
                                          "needs both moto_server stand-ins (S3, Secrets Manager): run through `make test`"))
struct RedactionTests {
    @Test func noSecretAppearsInAnyOutputOrFile() async throws {
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
        // CloudWatch monitoring on: what is shipped must be as clean as what is printed.
        let logGroup = "/conviction-canary/\(id)", namespace = "ConvictionCanary/\(id)"
        environment["CONVICTION_MONITORING_CLOUDWATCH"] = "true"
        environment["CONVICTION_MONITORING_LOG_GROUP"] = logGroup
        environment["CONVICTION_MONITORING_NAMESPACE"] = namespace
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
                let result = try await TestSupport.convictionOffPool(arguments, environment: environment)
                transcript += "$ \(command.joined(separator: " "))\n\(result.stdout)\n\(result.stderr)\n"
                #expect(result.status == 0, "\(command) on \(store): \(result.stderr)")
            }
        }
        // An error path: a wrong secret against the checking server.
        var bad = environment
        bad["CONVICTION_AWS_ENDPOINT"] = auth.endpoint
        bad["AWS_ACCESS_KEY_ID"] = auth.keyID
        let result = try await TestSupport.convictionOffPool(["secrets", "check"], environment: bad, unset: ["AWS_SESSION_TOKEN"])
        #expect(result.status != 0 && result.stderr.contains("SignatureDoesNotMatch"), "\(result.stderr)")
        transcript += result.stdout + result.stderr
        #expect(transcript.contains("TWITTER_BEARER_TOKEN: present (secretsmanager:canary/\(id))"), "the migrated secret is read back from Secrets Manager")
        #expect(transcript.contains("$ runs\nrun id "), "runs lists the pipeline's run")
        for (name, value) in canaries {
            #expect(!transcript.contains(value), "\(name) leaked into command output")
        }
        // Read back through boto3 (an independent client): the log lines every command shipped, and the pipeline's metrics.
        let readBack = try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3", ["-c", Self.readCloudWatch, moto, logGroup, namespace],
                                           environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin"], timeout: 120)
        #expect(readBack.status == 0, "\(readBack.stderr)")
        let shipped = readBack.stdout
        #expect(shipped.contains("streams ") && shipped.contains("train:") && shipped.contains("score:"), "log lines of the commands reached CloudWatch Logs: \(shipped.prefix(2000))")
        #expect(shipped.contains("metric conviction_pipeline_stage_seconds stage=train") && shipped.contains("metric conviction_pipeline_delta_auc")
                && shipped.contains("metric conviction_score_posts_per_second"), "the pipeline's metrics reached CloudWatch")
        for (name, value) in canaries {
            #expect(!shipped.contains(value), "\(name) leaked into CloudWatch Logs")
        }
        // Every file the commands wrote, the catalog included.
        for case let path as String in FileManager.default.enumerator(atPath: work.path)! {
            guard let data = FileManager.default.contents(atPath: work.appendingPathComponent(path).path) else { continue }
            for (name, value) in canaries where data.range(of: Data(value.utf8)) != nil {
                Issue.record("\(name) leaked into \(path)")
            }
        }
    }

    /// Prints every shipped log line (all streams of the group) and every metric of the namespace.
    static let readCloudWatch = #"""
    import sys, boto3
    endpoint, group, namespace = sys.argv[1:4]
    logs = boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    print("streams", len(streams))
    for stream in streams:
        token = None
        while True:
            kwargs = dict(logGroupName=group, logStreamName=stream, startFromHead=True)
            if token: kwargs["nextToken"] = token
            page = logs.get_log_events(**kwargs)
            for e in page["events"]: print(e["message"])
            if not page["events"] or page["nextForwardToken"] == token: break
            token = page["nextForwardToken"]
    cw = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1")
    for page in cw.get_paginator("list_metrics").paginate(Namespace=namespace):
        for m in page["Metrics"]:
            print("metric", m["MetricName"], " ".join(f'{d["Name"]}={d["Value"]}' for d in m.get("Dimensions", [])))
    """#
}
