import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import Foundation

extension Conviction {
    struct Secrets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check or migrate the X API credentials; values are never printed.",
            discussion: """
            The five credentials (TWITTER_BEARER_TOKEN, TWITTER_API_KEY, TWITTER_API_SECRET, TWITTER_ACCESS_TOKEN,
            TWITTER_ACCESS_TOKEN_SECRET) come from AWS Secrets Manager when secrets.source = "secretsmanager"
            (one JSON secret, or one secret per key), with the environment as fallback. The simulator needs none.
            Examples:
              conviction secrets check
              CONVICTION_SECRETS_SOURCE=secretsmanager conviction secrets migrate
            """,
            subcommands: [Check.self, Migrate.self], defaultSubcommand: Check.self)

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List each credential as present or missing, with where it came from.",
                discussion: "Example: conviction secrets check --config conviction.toml")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let resolver = try await global.resolve().credentialResolver()
                var missing = 0
                for key in XCredentialKey.allCases {
                    let resolution = try await resolver.resolve(key)
                    if resolution.secret == nil { missing += 1 }
                    print("\(key.rawValue): \(resolution.secret == nil ? "missing (looked in \(resolution.source))" : "present (\(resolution.source))")")
                }
                if missing > 0 { print("\(missing) of \(XCredentialKey.allCases.count) missing: the live stream needs at least TWITTER_BEARER_TOKEN") }
            }
        }

        struct Migrate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Copy the credentials set in the environment into Secrets Manager (create or update; idempotent).",
                discussion: "Example: TWITTER_BEARER_TOKEN=... conviction secrets migrate --dry-run")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let configuration = try global.resolve()
                let environment = EnvironmentSecretsProvider()
                var values: [XCredentialKey: Secret] = [:]
                for key in XCredentialKey.allCases { if let value = try await environment.value(for: key) { values[key] = value } }
                guard !values.isEmpty else { throw ValidationError("none of the five TWITTER_* variables is set: nothing to migrate") }
                let provider = try await configuration.secrets.secretsManagerProvider(aws: configuration.aws)
                if global.dryRun {
                    print("plan: copy \(values.keys.map(\.rawValue).sorted().joined(separator: ", ")) into \(provider.name)")
                    return
                }
                let outcome = try await provider.migrate(values)
                for key in XCredentialKey.allCases where outcome[key] != nil { print("\(key.rawValue): \(outcome[key]!) in \(provider.name)") }
            }
        }
    }
}
