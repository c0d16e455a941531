import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import Foundation
import Logging

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML). Default: ./conviction.toml when it exists.")
    var config: String?

    @Option(name: .long, help: "Store root folder; overrides data.dir.")
    var dataDir: String?

    @Option(name: .long, help: "Comma-separated symbols, e.g. AAPL,TSLA; overrides universe.symbols.")
    var symbols: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String?

    @Flag(name: .long, help: "Validate inputs and print what would be done, changing nothing.")
    var dryRun = false

    /// Defaults, then the file, then the environment, then these flags.
    func resolve(overrides: [(String, String?)] = []) throws -> ConvictionConfiguration {
        var configuration = ConvictionConfiguration()
        let path = config ?? (FileManager.default.fileExists(atPath: "conviction.toml") ? "conviction.toml" : nil)
        if let path { try configuration.apply(file: path) }
        try configuration.apply(environment: ProcessInfo.processInfo.environment)
        if let dataDir { try configuration.set("data.dir", raw: dataDir, origin: "--data-dir") }
        if let symbols { try configuration.set("universe.symbols", raw: symbols, origin: "--symbols") }
        for (key, value) in overrides {
            if let value { try configuration.set(key, raw: value, origin: "flag for \(key)") }
        }
        try configuration.validate()
        return configuration
    }

    func logger() -> Logger {
        let raw = logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info"
        let level = Logger.Level(rawValue: raw.lowercased()) ?? .info
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: "conviction")
        logger.logLevel = level
        return logger
    }

    func context(_ configuration: ConvictionConfiguration) async throws -> PipelineContext {
        try await startMonitoring(configuration)
        var context = try await PipelineContext.open(configuration, logger: logger(), dryRun: dryRun)
        context.localXAPIServer = EmulatedXAPIServer.factory
        return context
    }
}

extension GlobalOptions {
    /// With `monitoring.cloudwatch = true`: metrics and log lines go to CloudWatch from here on
    /// (flushed on a timer and when the command ends, see `Conviction.main`).
    func startMonitoring(_ configuration: ConvictionConfiguration) async throws {
        guard configuration.monitoring.cloudwatch, !dryRun else { return }
        let command = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }.joined(separator: "-")
        _ = try CloudWatchMonitoring.start(configuration: try await configuration.awsConfiguration(), settings: configuration.monitoring,
                                           command: command.isEmpty ? "conviction" : command)
    }
}

/// Progress and messages go to standard error as plain lines; results go to standard output.
struct ConsoleLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let prefix = event.level >= .warning ? "\(event.level): " : ""
        // Metadata, when a call gives it (the stream's state changes), as sorted key=value pairs.
        let fields = metadata.merging(event.metadata ?? [:]) { _, new in new }
            .sorted { $0.key < $1.key }.map { " \($0.key)=\(Self.quoted("\($0.value)"))" }.joined()
        // The same redaction for the terminal and for every shipped copy (CloudWatch Logs).
        let line = SecretRedaction.scrub(prefix + "\(event.message)" + fields)
        FileHandle.standardError.write(Data((line + "\n").utf8))
        LogSinks.emit(timestamp: Timestamps.now(), line: event.level >= .warning ? line : "\(event.level): " + line)
    }

    static func quoted(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty ? value.debugDescription : value
    }
}

enum LoggingBootstrap {
    private static let done: Void = { LoggingSystem.bootstrap { _ in ConsoleLogHandler() } }()
    static func once(level: Logger.Level) { _ = done }
}
