import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import Foundation

extension Conviction {
    struct AWS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "aws",
            abstract: "Check what the AWS credentials may do.",
            subcommands: [Check.self], defaultSubcommand: Check.self)

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Probe each AWS permission the configured stages need, with harmless calls; list what is missing.",
                discussion: """
                Probes, as the configuration needs them: the S3 store (list, put, get and delete of one small object
                under _aws-check/, abort of a multipart upload that does not exist), the X secret in Secrets Manager
                (read; stream role only), CloudWatch (one data point of conviction_aws_check) and CloudWatch Logs (a
                stream aws-check/<host> with one line). The policies for each role are in docs/aws.md. Exits 77 when
                anything is refused. Examples:
                  conviction aws check --role stream --config /etc/conviction/conviction.toml
                  conviction aws check
                """)
            @OptionGroup var global: GlobalOptions
            @Option(help: "The role whose needs to check: stream, score, gpu or train; default: everything configured.")
            var role: PermissionCheck.Role?

            func run() async throws {
                let configuration = try global.resolve()
                let aws = try await configuration.awsConfiguration()
                let store = configuration.usesS3 ? try S3ObjectStore(url: configuration.dataDir, configuration: aws) : nil
                let secret = configuration.secrets.source == .secretsmanager
                    ? (configuration.secrets.layout == .json ? configuration.secrets.secretID : "\(configuration.secrets.prefix)/TWITTER_BEARER_TOKEN") : nil
                let check = try PermissionCheck(configuration: aws, store: store, secretID: secret, monitoring: configuration.monitoring, role: role)
                guard !check.probes.isEmpty else {
                    print("aws check: nothing to check: the store is local, secrets come from the environment and monitoring.cloudwatch is off")
                    return
                }
                if global.dryRun {
                    for probe in check.probes { print("plan: probe \(probe.action) on \(probe.resource)") }
                    return
                }
                let identity = try await aws.credentials.current()
                print("aws check: \(check.probes.count) permission(s) for \(role.map { "role \($0.rawValue)" } ?? "the configured stages"), credentials from \(identity.source)")
                let results = await check.run()
                for r in results {
                    let status = r.allowed ? "ok     " : "MISSING"
                    print("\(status) \(r.action.padding(toLength: 30, withPad: " ", startingAt: 0)) \(r.resource)" + (r.note.map { "  (\($0))" } ?? "")
                          + (r.refused.map { "  (\($0))" } ?? ""))
                }
                let missing = results.filter { !$0.allowed }.map(\.action)
                guard missing.isEmpty else {
                    throw PermissionsMissing(actions: missing)
                }
                print("aws check: all \(results.count) permission(s) present")
            }
        }
    }
}

extension PermissionCheck.Role: ExpressibleByArgument {}

struct PermissionsMissing: ConvictionError {
    let actions: [String]
    var errorCode: ErrorCode { .credentials }
    var description: String { "aws check: missing \(actions.joined(separator: ", ")); docs/aws.md gives each role's policy" }
}
