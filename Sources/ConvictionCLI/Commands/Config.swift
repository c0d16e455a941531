import ArgumentParser
import ConvictionPipeline
import Foundation

extension Conviction {
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write, check or show the configuration.",
            discussion: """
            One TOML file (./conviction.toml, or --config FILE); CONVICTION_<SECTION>_<KEY> environment variables
            override it, and flags override both. Example:
              conviction config init && conviction config check
            """,
            subcommands: [Init.self, Check.self, Show.self])

        struct Init: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a commented default configuration file.",
                discussion: "Example: conviction config init --output conviction.toml")
            @Option(help: "Where to write it.") var output = "conviction.toml"
            @Flag(help: "Replace an existing file.") var force = false

            func run() async throws {
                if FileManager.default.fileExists(atPath: output) && !force {
                    throw ValidationError("\(output) exists; pass --force to replace it")
                }
                try Data(ConvictionConfiguration().renderTOML().utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                print("wrote \(output)")
            }
        }

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate the configuration file, environment and flags.",
                discussion: "Exits non-zero naming the key and line of the first problem. Example: conviction config check --config my.toml")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                _ = try global.resolve()
                print("configuration OK")
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the resolved configuration (file, then environment, then flags).",
                discussion: "Example: CONVICTION_SIMULATION_SIGNAL=0 conviction config show")
            @OptionGroup var global: GlobalOptions

            func run() async throws { print(try global.resolve().renderResolved()) }
        }
    }
}
