import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import ConvictionStore
import Foundation

extension Conviction {
    struct Batch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "batch",
            abstract: "AWS Batch array jobs for the stages (see docs/scale-out.md).",
            subcommands: [JobDefinition.self, Submit.self, Work.self])

        struct JobDefinition: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "job-definition",
                abstract: "Print an AWS Batch job definition (a RegisterJobDefinition request) for a stage's array children.",
                discussion: """
                The children run `conviction batch work --stage <stage>` in the given image. Retries: a reclaimed spot
                instance (status reason "Host EC2*") and exits 69 (unavailable) and 75 (rate limited) are retried;
                anything else, bad input above all, is not. Register it with:
                  conviction batch job-definition --stage score --image ACCOUNT.dkr.ecr.REGION.amazonaws.com/conviction:0.1.0 > jd.json
                  aws batch register-job-definition --cli-input-json file://jd.json
                """)
            @Option(help: "score, features or replay.") var stage: BatchStage
            @Option(help: "Container image with the release (deploy/Dockerfile).") var image: String
            @Option(help: "Job definition name; default conviction-<stage>.") var name: String?
            @Option(help: "vCPUs per child.") var vcpus = 2
            @Option(help: "Memory per child in MiB.") var memory = 8192
            @Option(help: "IAM role the children run as (docs/aws.md gives the policies).") var jobRoleArn: String?
            @Option(help: "Attempts in all per child, 1 to 10.") var attempts = 3

            func validate() throws {
                guard (1...10).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 10, not \(attempts)") }
                guard vcpus >= 1, memory >= 512 else { throw ValidationError("--vcpus must be at least 1 and --memory at least 512 MiB") }
                guard !image.isEmpty else { throw ValidationError("--image is empty") }
            }

            func run() async throws {
                var definition = BatchJobDefinition(stage: stage, image: image, name: name)
                definition.vcpus = vcpus
                definition.memoryMiB = memory
                definition.jobRoleARN = jobRoleArn
                definition.attempts = attempts
                print(try definition.json())
            }
        }
    }
}

extension BatchStage: ExpressibleByArgument {}
