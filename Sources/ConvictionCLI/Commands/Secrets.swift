import ArgumentParser
import ConvictionCore
import Foundation

extension Conviction {
    struct Secrets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report which X API credentials are available, never their values.",
            discussion: """
            The five credentials are read from the environment (TWITTER_BEARER_TOKEN, TWITTER_API_KEY,
            TWITTER_API_SECRET, TWITTER_ACCESS_TOKEN, TWITTER_ACCESS_TOKEN_SECRET); AWS Secrets Manager comes
            with the AWS backend. The simulator needs none. Example: conviction secrets check
            """,
            subcommands: [Check.self], defaultSubcommand: Check.self)

        static let names = ["TWITTER_BEARER_TOKEN", "TWITTER_API_KEY", "TWITTER_API_SECRET", "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_TOKEN_SECRET"]

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List each credential as present or missing, with its source.")
            func run() async throws {
                let environment = ProcessInfo.processInfo.environment
                for name in Secrets.names {
                    let secret = environment[name].flatMap { $0.isEmpty ? nil : Secret($0) }
                    print("\(name): \(secret == nil ? "missing" : "present (environment)")")
                }
            }
        }
    }
}
