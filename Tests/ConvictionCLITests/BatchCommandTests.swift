import ConvictionCore
import ConvictionTesting
import Foundation
import Testing

/// `conviction batch job-definition`: a RegisterJobDefinition request that botocore's Batch model
/// accepts and moto_server registers, with a retry strategy that retries spot reclaims and outages only.
@Suite(.timeLimit(.minutes(10))) struct BatchCommandTests {
    func check(_ json: String, endpoint: String? = nil) async throws -> TestSupport.ProcessResult {
        try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3",
                                         [TestSupport.packageRoot.appendingPathComponent("scripts/check-aws-request.py").path, "batch", "RegisterJobDefinition"]
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
}
