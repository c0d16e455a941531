import ConvictionTesting
import Foundation
import Testing

/// `conviction gpu launch | status | terminate` against the signature-checking moto_server.
@Suite(.enabled(if: TestSupport.motoAuth != nil && TestSupport.pythonHas("boto3"), "needs moto_server: run through `make test`"), .timeLimit(.minutes(10)))
struct GPUCommandTests {
    @Test func launchStatusTerminate() throws {
        let auth = try #require(TestSupport.motoAuth)
        let template = "conviction-gpu-\(UUID().uuidString.prefix(6).lowercased())"
        let role = "gpu-cli-\(UUID().uuidString.prefix(6).lowercased())"
        // The launch template an operator would have made (docs/gpu.md), made here with boto3.
        let make = try TestSupport.run(TestSupport.python!, ["-c", """
            import boto3, sys
            ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
            ec2.create_launch_template(LaunchTemplateName=sys.argv[4], LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "g6.xlarge"})
            """, auth.endpoint, auth.keyID, auth.secret, template])
        #expect(make.status == 0, "\(make.stderr)")
        let environment = ["CONVICTION_AWS_ENDPOINT": auth.endpoint, "AWS_ACCESS_KEY_ID": auth.keyID, "AWS_SECRET_ACCESS_KEY": auth.secret,
                           "AWS_REGION": "us-east-1", "CONVICTION_GPU_LAUNCH_TEMPLATE": template, "CONVICTION_GPU_ROLE": role]
        func gpu(_ arguments: [String]) throws -> TestSupport.ProcessResult { try TestSupport.conviction(["gpu"] + arguments, environment: environment) }

        let dry = try gpu(["launch", "--count", "2", "--max-price", "0.80", "--hours", "3", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("plan: launch 2 x g6.xlarge spot instance(s) from launch template \(template)"), "\(dry.stdout)")
        #expect(dry.stdout.contains("cost estimate: $") && dry.stdout.contains("for 2 instance(s) x 3 h") && dry.stdout.contains("at most $4.80 at the max price"), "\(dry.stdout)")
        #expect(dry.stdout.contains("dry run: EC2 accepted the request"))
        #expect(try gpu(["status"]).stdout.contains("no instances tagged conviction:role=\(role)"))

        let launch = try gpu(["launch", "--count", "2"])
        #expect(launch.status == 0, "\(launch.stderr)")
        let ids = launch.stdout.split(separator: "\n").filter { $0.hasPrefix("launched ") }.map { String($0.split(separator: " ")[1]) }
        #expect(ids.count == 2 && launch.stdout.contains(" spot "), "\(launch.stdout)")
        let status = try gpu(["status"])
        #expect(ids.allSatisfy { status.stdout.contains($0) } && status.stdout.contains("\tspot\t"), "\(status.stdout)")

        let stranger = try gpu(["terminate", "i-0123456789abcdef0"])
        #expect(stranger.status != 0 && stranger.stderr.contains("refusing to terminate"), "\(stranger.stderr)")
        let terminate = try gpu(["terminate", "--all"])
        #expect(terminate.status == 0 && ids.allSatisfy { terminate.stdout.contains($0) }, "\(terminate.stdout)\(terminate.stderr)")
        #expect(try gpu(["status"]).stdout.contains("no instances tagged"))
        #expect(!(launch.stdout + launch.stderr + status.stdout + terminate.stdout).contains(auth.secret), "the secret key is never printed")
    }
}
