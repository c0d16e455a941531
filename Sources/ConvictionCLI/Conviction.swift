import ArgumentParser

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
        """,
        version: "0.1.0",
        subcommands: [Simulate.self, Ingest.self, Score.self, Features.self, Train.self, PipelineCommand.self, XEmulatorCommand.self,
                      Runs.self, Dashboard.self, Secrets.self, Config.self, GPU.self, LLMEmulatorCommand.self]
    )
}
