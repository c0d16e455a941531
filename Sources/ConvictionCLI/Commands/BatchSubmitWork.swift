import ArgumentParser
import ConvictionAWS
import ConvictionCore
import ConvictionPipeline
import ConvictionStore
import Foundation

extension Conviction.Batch {
    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Write a manifest of a stage's pending units to the store and submit one AWS Batch array job for them.",
            discussion: """
            The store must be S3 (--data-dir s3://bucket/prefix): the children read the manifest and commit there.
            Child i of N works the units at positions i, i+N, ...; a retried child skips what it committed. Example:
              conviction batch submit --stage score --job-queue conviction-spot --job-definition conviction-score --array-size 50
            --dry-run prints the manifest's plan and the SubmitJob request, writing and submitting nothing.
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "score, features or replay.") var stage: BatchStage
        @Option(help: "Job queue name or ARN.") var jobQueue: String
        @Option(help: "Job definition name, name:revision or ARN (conviction batch job-definition).") var jobDefinition: String
        @Option(help: "Children; default one per unit, at most 100.") var arraySize: Int?
        @Option(help: "replay: the store folder holding the archive files.") var archives: String?
        @Option(help: "Job name; default conviction-<stage>-<run>.") var name: String?
        @Flag(help: "Every unit, not only those never finished (children still skip what is finished from the same inputs).") var all = false

        func validate() throws {
            if let arraySize, !BatchJobSubmission.arraySizes.contains(arraySize) {
                throw ValidationError("--array-size must be between 1 and 10,000 (AWS Batch's limit), not \(arraySize)")
            }
        }

        func run() async throws {
            let configuration = try global.resolve()
            guard configuration.usesS3 else {
                throw ConvictionConfiguration.Error(description: "--data-dir (data.dir) is \(configuration.dataDir): Batch children read the manifest and commit through the store, so it must be s3://bucket/prefix")
            }
            let context = try await global.context(configuration)
            let units = try await BatchPlanner.units(stage, context: context, archives: archives, all: all)
            guard !units.isEmpty else {
                print("batch: nothing to submit: every \(stage.rawValue) unit is finished (--all redoes those whose inputs changed)")
                return
            }
            let size = min(arraySize ?? min(units.count, 100), units.count)
            let manifest = BatchManifest(stage: stage, run: BatchManifest.newRun(), units: units, arraySize: size,
                                         configuration: configuration.renderTOML(), createdAt: Timestamps.iso8601(Timestamps.now()))
            let submission = BatchJobSubmission(name: name ?? "conviction-\(stage.rawValue)-\(manifest.run)", jobQueue: jobQueue,
                                                jobDefinition: jobDefinition, stage: stage, manifestKey: manifest.key,
                                                dataDir: configuration.dataDir, arraySize: size)
            let shares = (0..<size).map { manifest.share(index: $0, size: size).count }
            let plan = "\(units.count) \(stage.rawValue) unit(s) in \(size) child(ren) of \(shares.min() ?? 0) to \(shares.max() ?? 0) unit(s); manifest \(configuration.dataDir)/\(manifest.key)"
            if global.dryRun {
                print("plan: \(plan)")
                print(try submission.json())
                return
            }
            try await manifest.write(to: context.store)
            let job = try await BatchClient(configuration: try await configuration.awsConfiguration()).submit(submission)
            print("batch: submitted job \(job.id) (\(submission.name)): \(plan)")
        }
    }

    struct Work: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "work",
            abstract: "Work one array child's share of a batch manifest (what the Batch job runs), or --local N children here.",
            discussion: """
            The child's index is AWS_BATCH_JOB_ARRAY_INDEX (0 when unset, a job that is not an array). Each committed
            unit is printed as `committed <stage> <unit>` when it is recorded. Exits as the stage does: 69 and 75 are
            worth a retry, other failures are not.
            --local N runs children 0..N-1 as processes on this machine, writing a manifest first when --manifest is
            not given, and retries a child that was killed or exited 69 or 75, up to --attempts, as the job
            definition's retry strategy does. Example:
              conviction batch work --stage score --local 4
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "score, features or replay.") var stage: BatchStage
        @Option(help: "The manifest's key in the store (batch submit prints it).") var manifest: String?
        @Option(help: "This child's index; default AWS_BATCH_JOB_ARRAY_INDEX.") var arrayIndex: Int?
        @Option(help: "Children in all; default the manifest's.") var arraySize: Int?
        @Option(help: "Run this many children here.") var local: Int?
        @Option(help: "--local: attempts per child, as the job definition's.") var attempts = 3
        @Option(help: "--local without --manifest, replay: the store folder holding the archive files.") var archives: String?
        @Option(help: "Worker name in lease records; default <host>-<pid>.") var workerId: String?

        func validate() throws {
            if let local, !(1...256).contains(local) { throw ValidationError("--local must be between 1 and 256, not \(local)") }
            guard (1...10).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 10, not \(attempts)") }
            if local == nil && manifest == nil { throw ValidationError("--manifest is required (or --local N to plan and run here)") }
        }

        func run() async throws {
            let configuration = try global.resolve()
            let context = try await global.context(configuration)
            if let local { return try await runLocal(children: local, configuration: configuration, context: context) }
            let manifestKey = manifest!
            let manifest = try await BatchManifest.read(manifestKey, from: context.store)
            guard manifest.stage == stage else {
                throw ConvictionConfiguration.Error(description: "\(manifestKey) is a \(manifest.stage.rawValue) manifest, not \(stage.rawValue)")
            }
            let environment = ProcessInfo.processInfo.environment
            let index: Int
            if let arrayIndex { index = arrayIndex } else if let raw = environment["AWS_BATCH_JOB_ARRAY_INDEX"] {
                guard let parsed = Int(raw), parsed >= 0 else { throw ConvictionConfiguration.Error(description: "AWS_BATCH_JOB_ARRAY_INDEX is \(raw), not an index") }
                index = parsed
            } else { index = 0 }
            let size = arraySize ?? manifest.arraySize
            guard (0..<size).contains(index) else { throw ConvictionConfiguration.Error(description: "array index \(index) is outside the array of \(size)") }
            let settings = try BatchWork.configuration(for: manifest, manifestKey: manifestKey, store: configuration.dataDir, environment: environment)
            let scoped = PipelineContext(configuration: settings, store: context.store, catalog: context.catalog, logger: context.logger, dryRun: context.dryRun)
            context.catalog.observeRecords { completion in
                FileHandle.standardOutput.write(Data("committed \(stage.rawValue) \(completion.unit)\n".utf8))
            }
            let stop = StopSignal()
            let work = BatchWork(manifest: manifest, index: index, size: size, context: scoped,
                                 worker: workerId ?? LeaseBoard.defaultWorkerID(), stop: stop)
            let outcome = try await GracefulShutdown.run(logger: context.logger, onShutdown: {
                FileHandle.standardError.write(Data("batch: shutdown requested (SIGTERM or SIGINT); finishing the unit in hand where the stage can\n".utf8))
                stop.request("SIGTERM or SIGINT")
            }) { try await work.run() }
            try report(outcome, context: scoped)
        }

        /// Plans a manifest when none is named, then runs the children here.
        func runLocal(children: Int, configuration: ConvictionConfiguration, context: PipelineContext) async throws {
            let manifest: BatchManifest
            if let key = self.manifest {
                manifest = try await BatchManifest.read(key, from: context.store)
            } else {
                let units = try await BatchPlanner.units(stage, context: context, archives: archives)
                guard !units.isEmpty else {
                    print("batch: nothing to do: every \(stage.rawValue) unit is finished")
                    return
                }
                manifest = BatchManifest(stage: stage, run: BatchManifest.newRun(), units: units, arraySize: children,
                                         configuration: configuration.renderTOML(), createdAt: Timestamps.iso8601(Timestamps.now()))
                if global.dryRun {
                    print("plan: \(units.count) \(stage.rawValue) unit(s) in \(children) local child(ren)")
                    return
                }
                try await manifest.write(to: context.store)
            }
            var forwarded: [String] = []
            if let config = global.config { forwarded += ["--config", config] }
            forwarded += ["--data-dir", configuration.dataDir]
            if let logLevel = global.logLevel { forwarded += ["--log-level", logLevel] }
            let arguments = ["batch", "work", "--stage", stage.rawValue, "--manifest", manifest.key, "--array-size", String(children)] + forwarded
            // Written at once, ahead of the children's relayed lines.
            FileHandle.standardOutput.write(Data("batch: \(manifest.units.count) \(stage.rawValue) unit(s) in \(children) local child(ren); manifest \(manifest.key)\n".utf8))
            let array = LocalArray(children: children, attempts: attempts, arguments: arguments)
            let results = try await GracefulShutdown.run(logger: context.logger, onShutdown: { array.stop() }) { await array.run() }
            let committed = results.flatMap(\.committed)
            let twice = Dictionary(grouping: committed, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            var missing: [String] = []
            for unit in manifest.units where !(try await context.catalog.hasRecord(stage: BatchPlanner.catalogStage(stage), unit: unit, store: context.store)) {
                missing.append(unit)
            }
            let retried = results.filter { $0.attempts > 1 }.map { "child \($0.index) ran \($0.attempts) times (\($0.history.joined(separator: ", ")))" }
            print("batch: \(committed.count) unit(s) committed by this run, \(manifest.units.count - missing.count) of \(manifest.units.count) finished"
                  + (retried.isEmpty ? "" : "; " + retried.joined(separator: "; ")))
            if !twice.isEmpty { FileHandle.standardError.write(Data("error: committed more than once: \(twice.joined(separator: ", "))\n".utf8)) }
            if let failed = results.first(where: { $0.status != 0 }) {
                FileHandle.standardError.write(Data("error: child \(failed.index) failed (\(failed.history.last ?? "")); \(missing.count) unit(s) unfinished\n".utf8))
                throw ExitCode(failed.status)
            }
        }
    }
}
