import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import ConvictionStore
import Foundation

extension Conviction {
    struct SageMaker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sagemaker",
            abstract: "Hyperparameter tuning on SageMaker with the built-in XGBoost (see docs/scale-out.md).",
            discussion: """
            The steps `conviction train --engine sagemaker` runs one after another:
              conviction sagemaker export     CSV channels and feature_metadata.json under data/sagemaker/
              conviction sagemaker submit     one CreateHyperParameterTuningJob per model (baseline, sentiment)
              conviction sagemaker status     jobs completed, running and failed, the best objective (--wait polls)
              conviction sagemaker fetch      the best models, scored on the local held-out rows, side by side
            """,
            subcommands: [Export.self, Submit.self, Status.self, Fetch.self])

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Write the tuning and fold channels (CSV, label first) and feature_metadata.json.")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let context = try await global.context(try global.resolve())
                let (outcome, plan) = try await SageMakerExport(context: context).run()
                if !context.dryRun { print("sagemaker: export \(plan.run) at \(context.configuration.dataDir)/\(plan.folder)/") }
                try report(outcome, context: context)
            }
        }

        struct Submit: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Export (when needed) and create one tuning job per model; --dry-run prints the requests.")
            @OptionGroup var global: GlobalOptions
            @Flag(help: "Submit again even when this export's jobs were submitted before.") var force = false

            func run() async throws {
                let context = try await global.context(try global.resolve())
                try await SageMakerSteps(context: context).submit(force: force)
            }
        }

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Where the export's tuning jobs stand.")
            @OptionGroup var global: GlobalOptions
            @Flag(help: "Poll until every job has finished.") var wait = false
            @Option(help: "Seconds between polls with --wait.") var interval: Double = 60

            func run() async throws {
                let context = try await global.context(try global.resolve())
                try await SageMakerSteps(context: context).status(wait: wait, interval: interval)
            }
        }

        struct Fetch: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Load the best models, score them on the held-out rows, refit their hyperparameters per fold, compare with local training.")
            @OptionGroup var global: GlobalOptions

            func run() async throws {
                let context = try await global.context(try global.resolve())
                try await SageMakerSteps(context: context).fetch()
            }
        }
    }
}

/// The SageMaker steps as the commands run them, with their output.
struct SageMakerSteps {
    let context: PipelineContext

    func plan() async throws -> SageMakerExport.Plan {
        let (outcome, plan) = try await SageMakerExport(context: context).run()
        for line in outcome.planned { print("plan: \(line)") }
        if !context.dryRun { print(outcome.summary) }
        return plan
    }

    func submit(force: Bool) async throws {
        let configuration = context.configuration
        let plan = try await plan()
        let image = try SageMakerTuning.image(configuration)
        let jobs = SageMakerTuning.jobs(plan: plan, configuration: configuration, image: image, stamp: SageMakerTuning.stamp())
        let problems = jobs.flatMap { job in job.job.problems.map { "\(job.model): \($0)" } }
        if context.dryRun {
            for (model, job) in jobs {
                print("plan: tuning job \(job.name) for \(model): \(configuration.sagemaker.strategy.apiName), up to \(configuration.sagemaker.maxJobs) training jobs, \(configuration.sagemaker.maxParallelJobs) at once, on \(job.trainURI)")
                print(try job.json())
            }
            for problem in problems { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
            return
        }
        guard problems.isEmpty else { throw SageMakerTuningJob.Invalid(problems: problems) }
        let key = SageMakerTuning.recordKey(plan)
        if !force, try await context.store.exists(key) {
            let record = try JSONDecoder().decode(SageMakerTuning.Record.self, from: try await context.store.get(key))
            print("sagemaker: export \(plan.run) was submitted at \(record.submittedAt) (\(record.jobs.sorted { $0.key < $1.key }.map(\.value).joined(separator: ", "))); --force submits again")
            return
        }
        let client = try SageMakerClient(configuration: try await configuration.awsConfiguration())
        var names: [String: String] = [:]
        for (model, job) in jobs {
            _ = try await client.create(job)
            names[model] = job.name
            print("sagemaker: submitted \(job.name) (\(model))")
        }
        let record = SageMakerTuning.Record(run: plan.run, jobs: names, submittedAt: Timestamps.iso8601(Timestamps.now()), image: image)
        try await context.store.put(key, data: try record.encoded())
    }

    func status(wait: Bool, interval: Double) async throws {
        let plan = try await plan()
        let key = SageMakerTuning.recordKey(plan)
        guard try await context.store.exists(key) else {
            throw StoreError(key: key, message: "no tuning jobs were submitted for export \(plan.run): run `conviction sagemaker submit` first", code: .missingInput)
        }
        let record = try JSONDecoder().decode(SageMakerTuning.Record.self, from: try await context.store.get(key))
        let client = try SageMakerClient(configuration: try await context.configuration.awsConfiguration())
        let started = Date()
        while true {
            var finished = true
            for (model, name) in record.jobs.sorted(by: { $0.key < $1.key }) {
                let s = try await client.describe(tuningJob: name)
                finished = finished && s.finished
                print(String(format: "sagemaker: %@ %@: %@, %d completed, %d running, %d failed, %d stopped, best validation:auc %@ (%.0fs)",
                             model, name, s.status, s.completed, s.inProgress, s.failed, s.stopped,
                             s.bestObjective.map { String(format: "%.4f", $0) } ?? "-", Date().timeIntervalSince(started)))
            }
            if finished || !wait { return }
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
    }

    func fetch() async throws {
        let aws = try await context.configuration.awsConfiguration()
        let comparison = try await SageMakerFetch(context: context, client: try SageMakerClient(configuration: aws), aws: aws).run()
        print(comparison.markdown)
        print("sagemaker: comparison in \(context.configuration.dataDir)/\(context.configuration.sagemaker.prefix)/\(comparison.run)/comparison.md")
    }
}
