import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// `conviction batch job-definition`: a RegisterJobDefinition request that botocore's Batch model
/// accepts and moto_server registers, with a retry strategy that retries spot reclaims and outages only.
@Suite(.timeLimit(.minutes(10))) struct BatchCommandTests {
    func check(_ json: String, operation: String = "RegisterJobDefinition", endpoint: String? = nil) async throws -> TestSupport.ProcessResult {
        try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3",
                                         [TestSupport.packageRoot.appendingPathComponent("scripts/check-aws-request.py").path, "batch", operation]
                                             + (endpoint.map { ["--endpoint", $0] } ?? []),
                                         environment: ["PATH": "/usr/bin:/bin"], input: Data(json.utf8), timeout: 120)
    }

    @Test(.enabled(if: TestSupport.pythonHas("boto3"), "needs boto3 in .venv: run make setup"))
    func theJobDefinitionIsAValidRegisterJobDefinitionRequest() async throws {
        let printed = try await TestSupport.convictionOffPool(["batch", "job-definition", "--stage", "score", "--image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/conviction:0.1.0",
                                                               "--job-role-arn", "arn:aws:iam::123456789012:role/conviction-score", "--vcpus", "4", "--memory", "16384"])
        #expect(printed.status == 0, "\(printed.stderr)")
        let request = try #require(try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any])
        let container = try #require(request["containerProperties"] as? [String: Any])
        #expect(container["command"] as? [String] == ["batch", "work", "--stage", "score"])
        let retry = try #require(request["retryStrategy"] as? [String: Any])
        let evaluate = try #require(retry["evaluateOnExit"] as? [[String: String]])
        #expect(evaluate.count <= 5, "Batch takes at most 5 evaluateOnExit entries")
        #expect(evaluate.first == ["onStatusReason": "Host EC2*", "action": "RETRY"], "a reclaimed spot instance is retried")
        #expect(evaluate.contains(["onExitCode": "69", "action": "RETRY"]) && evaluate.contains(["onExitCode": "75", "action": "RETRY"]))
        #expect(!evaluate.contains { $0["onExitCode"] == "65" } && evaluate.last == ["onReason": "*", "action": "EXIT"], "bad input (65) is not retried")

        let valid = try await check(printed.stdout, endpoint: TestSupport.motoEndpoint)
        #expect(valid.status == 0 && valid.stderr.contains("valid: batch RegisterJobDefinition"), "\(valid.stderr)")
        if TestSupport.motoEndpoint != nil {
            #expect(valid.stdout.contains(#""jobDefinitionName": "conviction-score""#) && valid.stdout.contains("jobDefinitionArn"), "moto registered it: \(valid.stdout)")
        }
        // The checker bites: a request without its required type is refused before anything is sent.
        var broken = request
        broken["type"] = nil
        let refused = try await check(String(decoding: try JSONSerialization.data(withJSONObject: broken), as: UTF8.self))
        #expect(refused.status != 0 && refused.stderr.contains("Missing required parameter"), "\(refused.stderr.suffix(500))")
    }

    @Test func outOfRangeSettingsAreRefusedByName() async throws {
        let r = try await TestSupport.convictionOffPool(["batch", "job-definition", "--stage", "score", "--image", "img", "--attempts", "11"])
        #expect(r.status != 0 && r.stderr.contains("--attempts must be between 1 and 10"), "\(r.stderr)")
    }

    /// `setup NAME`: moto's Batch runs no containers; a compute environment and a queue named NAME.
    /// `describe JOB`: the job's array size, command, environment and queue.
    static let motoBatch = #"""
    import boto3, json, sys, urllib.request
    endpoint, mode, name = sys.argv[1:4]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    batch = boto3.client("batch", **kw)
    if mode == "setup":
        urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/config", data=json.dumps({"batch": {"use_docker": False}}).encode(),
                                                      method="POST", headers={"Content-Type": "application/json"}))
        role = boto3.client("iam", **kw).create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        ce = batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", state="ENABLED", serviceRole=role)
        batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])
    else:
        job = batch.describe_jobs(jobs=[name])["jobs"][0]
        print(json.dumps({"size": job.get("arrayProperties", {}).get("size"), "command": job["container"]["command"],
                          "environment": job["container"]["environment"], "queue": job["jobQueue"]}))
    """#

    /// `batch submit` on an S3 store in moto: a manifest of the pending partitions, and one array job
    /// whose request botocore's Batch model accepts. The children, run as Batch runs them (index in
    /// the environment, the store from CONVICTION_DATA_DIR), commit every partition; a second submit
    /// finds nothing left.
    @Test(.enabled(if: TestSupport.motoEndpoint != nil && TestSupport.pythonHas("boto3"), "needs moto_server and boto3 (make test starts them)"))
    func submitWritesAManifestAndOneArrayJobWhoseChildrenCommitEveryPartition() async throws {
        let endpoint = try #require(TestSupport.motoEndpoint)
        let python = try #require(TestSupport.python)
        let id = UUID().uuidString.prefix(8).lowercased()
        let store = "s3://batch-\(id)/data"
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "CONVICTION_AWS_ENDPOINT": endpoint,
                           "CONVICTION_AWS_CREATE_BUCKET": "true", "CONVICTION_DATA_SOURCE": "simulator", "CONVICTION_SIMULATION_DELIVERY": "replay",
                           "CONVICTION_SIMULATION_SESSIONS": "3", "CONVICTION_TRAINING_FOLDS": "2", "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,TSLA",
                           "CONVICTION_SCORING_SCORER": "lexicon",
                           "CONVICTION_DATA_CATALOG": TestSupport.temporaryDirectory("batch-submit").appendingPathComponent("c.sqlite").path]
        for stage in [["simulate"], ["ingest"]] {
            let r = try await TestSupport.convictionOffPool(stage + ["--data-dir", store], environment: environment)
            #expect(r.status == 0, "\(stage): \(r.stderr)")
        }
        let queue = "conviction-\(id)"
        let setup = try await TestSupport.runOffPool(python, ["-c", Self.motoBatch, endpoint, "setup", queue], environment: ["PATH": "/usr/bin:/bin"], timeout: 120)
        try #require(setup.status == 0, "\(setup.stderr)")
        let definition = try await TestSupport.convictionOffPool(["batch", "job-definition", "--stage", "score", "--image", "conviction:0.1.0"])
        let registered = try await check(definition.stdout, endpoint: endpoint)
        #expect(registered.status == 0, "\(registered.stderr)")

        let submit = ["batch", "submit", "--stage", "score", "--job-queue", queue, "--job-definition", "conviction-score", "--array-size", "3", "--data-dir", store]
        let planned = try await TestSupport.convictionOffPool(submit + ["--dry-run"], environment: environment)
        #expect(planned.status == 0 && planned.stdout.contains("plan: 10 score unit(s) in 3 child(ren) of 3 to 4 unit(s)"), "\(planned.stdout)\(planned.stderr)")
        let request = String(planned.stdout.drop { $0 != "{" })
        let valid = try await check(request, operation: "SubmitJob")
        #expect(valid.status == 0 && valid.stderr.contains("valid: batch SubmitJob"), "\(valid.stderr)")

        let submitted = try await TestSupport.convictionOffPool(submit, environment: environment)
        #expect(submitted.status == 0 && submitted.stdout.contains("batch: submitted job "), "\(submitted.stdout)\(submitted.stderr)")
        let jobID = try #require(submitted.stdout.split(separator: " ").dropFirst(3).first.map(String.init))
        let described = try await TestSupport.runOffPool(python, ["-c", Self.motoBatch, endpoint, "describe", jobID], environment: ["PATH": "/usr/bin:/bin"], timeout: 120)
        let job = try #require(try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any], "\(described.stderr)")
        #expect(job["size"] as? Int == 3, "\(job)")
        let command = try #require(job["command"] as? [String])
        #expect(Array(command.prefix(5)) == ["batch", "work", "--stage", "score", "--manifest"], "\(command)")
        #expect((job["environment"] as? [[String: String]] ?? []).contains(["name": "CONVICTION_DATA_DIR", "value": store]), "\(job)")

        // The children, as Batch starts them.
        for index in 0..<3 {
            var child = environment
            child["AWS_BATCH_JOB_ARRAY_INDEX"] = String(index)
            child["CONVICTION_DATA_DIR"] = store
            child["CONVICTION_DATA_CATALOG"] = TestSupport.temporaryDirectory("batch-child-\(index)").appendingPathComponent("c.sqlite").path
            let work = try await TestSupport.convictionOffPool(Array(command), environment: child)
            #expect(work.status == 0, "child \(index): \(work.stderr)")
            #expect(work.stdout.split(separator: "\n").filter { $0.hasPrefix("committed score raw/posts/") }.count == (index == 0 ? 4 : 3), "child \(index): \(work.stdout)")
        }
        let again = try await TestSupport.convictionOffPool(submit, environment: environment)
        #expect(again.status == 0 && again.stdout.contains("nothing to submit: every score unit is finished"), "the markers the children left: \(again.stdout)\(again.stderr)")
        let local = try await TestSupport.convictionOffPool(["batch", "submit", "--stage", "score", "--job-queue", queue, "--job-definition", "d"],
                                                            environment: ["CONVICTION_DATA_DIR": TestSupport.temporaryDirectory("batch-local-store").path])
        #expect(local.status == 78 && local.stderr.contains("must be s3://bucket/prefix"), "\(local.stderr)")
    }
}
