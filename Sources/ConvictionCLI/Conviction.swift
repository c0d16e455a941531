import ArgumentParser
import ConvictionAWS
import ConvictionCore
import Foundation

@main
struct Conviction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conviction",
        abstract: "Point-in-time sentiment features from the X cashtag stream, and an honest measure of what they add.",
        discussion: """
        Data flows through the store, one stage at a time:
          simulate  -> market/bars_1m/, market/news/, sim/stream/
          ingest    -> raw/posts/dt=/symbol=/ (bad lines: raw/quarantine/)
          score     -> scores/dt=/symbol=/ (a queue several workers can share; `gpu` launches GPU workers)
          features  -> features/symbol=/, features/feature_metadata.json
          train     -> runs/<run-id>/report.md
        `conviction pipeline` runs them all; each stage skips what it has already done.

        Exit status: 0 success; 1 a stage failed (its report says which); 64 a usage error (unknown flag or subcommand); and for errors with a code (ErrorCode):
        \(exitStatusTable)
        """,
        version: "0.1.0",
        subcommands: [Simulate.self, Ingest.self, Score.self, Features.self, Train.self, PipelineCommand.self, XEmulatorCommand.self,
                      Runs.self, Dashboard.self, Secrets.self, Config.self, GPU.self, LLMEmulatorCommand.self, AWS.self, Batch.self, SageMaker.self]
    )
}

extension Conviction {
    /// The exit statuses of `ErrorCode`, one line each, for `--help`.
    static let exitStatusTable = ErrorCode.allCases.sorted { $0.exitStatus < $1.exitStatus }
        .map { "  \($0.exitStatus) \($0.rawValue): \($0.meaning)" }.joined(separator: "\n")

    /// ArgumentParser's main, except that an error with a code exits with that code's status, so
    /// scripts can tell a bad configuration (78) from an outage (69) or a rate limit (75).
    static func main() async {
        MemoryTuning.apply()
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            await CloudWatchMonitoring.shutdown()
        } catch let error as any ConvictionError {
            let line = "Error: " + SecretRedaction.scrub(error.description)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            LogSinks.emit(timestamp: Timestamps.now(), line: line)
            await CloudWatchMonitoring.shutdown()
            Foundation.exit(error.errorCode.exitStatus)
        } catch {
            await CloudWatchMonitoring.shutdown()
            exit(withError: error)
        }
    }
}
