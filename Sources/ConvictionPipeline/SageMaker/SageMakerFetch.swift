import ConvictionAWS
import ConvictionCore
import ConvictionModeling
import ConvictionStore
import Foundation
import Logging

/// After tuning: each model's best training job's `model.tar.gz`, loaded through the XGBoost C
/// API and scored on the held-out rows of local training (every fold's test rows); the best
/// hyperparameters refitted on every walk-forward fold; and the local run, side by side.
public struct SageMakerFetch: Sendable {
    public struct Row: Codable, Sendable, Equatable {
        public let method: String
        public let baselineAUC: Double
        public let sentimentAUC: Double
        public let testRows: Int
        /// DeLong, one-sided (with sentiment better).
        public let pValue: Double?
        public var deltaAUC: Double { sentimentAUC - baselineAUC }
    }

    public struct Comparison: Codable, Sendable {
        public let run: String
        public let rows: [Row]
        public let jobs: [String: String]
        public let bestObjective: [String: Double]
        public let notes: [String]

        public var markdown: String {
            var out = "| method | baseline AUC | with sentiment AUC | ΔAUC | p (DeLong, one-sided) | test rows |\n|---|---|---|---|---|---|\n"
            for r in rows {
                out += String(format: "| %@ | %.4f | %.4f | %+.4f | %@ | %d |\n", r.method, r.baselineAUC, r.sentimentAUC, r.deltaAUC,
                              r.pValue.map { String(format: "%.4g", $0) } ?? "-", r.testRows)
            }
            return out + notes.map { "\n- \($0)" }.joined()
        }
    }

    let context: PipelineContext
    let client: SageMakerClient
    let aws: AWSConfiguration

    public init(context: PipelineContext, client: SageMakerClient, aws: AWSConfiguration) {
        self.context = context; self.client = client; self.aws = aws
    }

    public func run() async throws -> Comparison {
        let config = context.configuration
        let export = SageMakerExport(context: context)
        let prepared = try await export.prepare()
        let plan = export.plan(prepared)
        let recordKey = SageMakerTuning.recordKey(plan)
        guard try await context.store.exists(recordKey) else {
            throw StoreError(key: recordKey, message: "no tuning jobs were submitted for export \(plan.run) (the features as they are now): run `conviction sagemaker submit` first", code: .missingInput)
        }
        let record = try JSONDecoder().decode(SageMakerTuning.Record.self, from: try await context.store.get(recordKey))
        let library = try XGBoostLibrary.locate(explicit: config.xgboostLibrary)
        let data = prepared.dataset.data
        let heldOut = prepared.folds.flatMap(\.test)
        let labels = heldOut.map { data.labels[$0] }
        var notes: [String] = []
        var scores: [String: [Double]] = [:]
        var fixed: [String: (parameters: [(String, String)], rounds: Int)] = [:]
        var objective: [String: Double] = [:]
        let space = Set(config.training.search.space.parameters.map(\.name))
        for model in SageMakerExport.models {
            guard let name = record.jobs[model] else { throw StoreError(key: recordKey, message: "no tuning job for \(model)", code: .badInput) }
            let status = try await client.describe(tuningJob: name)
            guard status.status == "Completed" || (status.finished && status.bestJob != nil), let best = status.bestJob else {
                throw StoreError(key: name, message: "tuning job is \(status.status) (\(status.completed) completed, \(status.inProgress) running, \(status.failed) failed); fetch once it has completed", code: .unavailable)
            }
            objective[model] = status.bestObjective
            let uri = try await client.modelArtifacts(trainingJob: best)
            let booster = try await load(uri, model: model, plan: plan, library: library)
            let rounds = try booster.boostedRounds()
            let columns = plan.columns[model]!.map { data.featureNames.firstIndex(of: $0)! }
            let matrix = try DMatrix(library: library, values: heldOut.flatMap { r in columns.map { data.values[r * data.featureNames.count + $0] } },
                                     rows: heldOut.count, columns: columns.count)
            scores[model] = try booster.predict(matrix).map(Double.init)
            let tuned = SageMakerTuning.localParameters(status.tunedHyperParameters)
            let ignored = status.tunedHyperParameters.filter { Double($0.value) == nil || !space.contains(SageMakerTuning.localName($0.key)) }.keys
            if !ignored.isEmpty { notes.append("\(model): ignored tuned values that are not numbers of the search space: \(ignored.sorted().joined(separator: ", "))") }
            let kept = tuned.filter { space.contains($0.key) }
            fixed[model] = (HyperparameterSearch.parameters(kept, seed: config.training.seed, threads: config.training.threads), rounds)
            notes.append("\(model): best job \(best) (validation:auc \(status.bestObjective.map { String(format: "%.4f", $0) } ?? "-")), \(rounds) rounds, tuned \(kept.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
        }
        var rows: [Row] = []
        let (local, _) = try await TrainTask(context: context).run()
        if let report = try await localReport(local) {
            rows.append(Row(method: "local search (\(report.runID))", baselineAUC: report.result.baselineAUC, sentimentAUC: report.result.augmentedAUC,
                            testRows: report.result.testRows, pValue: report.result.delong.pOneSided))
        }
        context.logger.info("sagemaker: refitting the tuned hyperparameters on \(prepared.folds.count) fold(s)")
        let refit = try UpliftExperiment(configuration: config.training, library: library, fixed: fixed)
            .run(data, baseline: prepared.base, added: prepared.added) { context.logger.info("sagemaker refit: \($0)") }
        rows.append(Row(method: "SageMaker-tuned, refit per fold", baselineAUC: refit.baselineAUC, sentimentAUC: refit.augmentedAUC,
                        testRows: refit.testRows, pValue: refit.delong.pOneSided))
        let direct = DeLong.compare(scoresA: scores["baseline"]!, scoresB: scores["sentiment"]!, labels: labels)
        rows.append(Row(method: "SageMaker best models (trained on the tuning channel)", baselineAUC: AUC.compute(scores: scores["baseline"]!, labels: labels) ?? .nan,
                        sentimentAUC: AUC.compute(scores: scores["sentiment"]!, labels: labels) ?? .nan, testRows: heldOut.count, pValue: direct?.pOneSided))
        if let degradation = prepared.degradation { notes.append(degradation) }
        let comparison = Comparison(run: plan.run, rows: rows, jobs: record.jobs, bestObjective: objective, notes: notes)
        try await context.store.put(plan.folder + "/comparison.json", data: try JSON.encode(comparison))
        try await context.store.put(plan.folder + "/comparison.md", data: Data(comparison.markdown.utf8))
        return comparison
    }

    func localReport(_ outcome: StageOutcome) async throws -> RunReport? {
        guard let completion = try context.catalog.completions(stage: TrainTask.stage).max(by: { $0.completedAt < $1.completedAt }),
              let key = completion.outputKeyList.first(where: { $0.hasSuffix("report.json") }) else { return nil }
        return try RunReport.decode(try await context.store.get(key))
    }

    /// Downloads `model.tar.gz`, keeps its `xgboost-model` in the run's folder and loads it.
    func load(_ uri: String, model: String, plan: SageMakerExport.Plan, library: XGBoostLibrary) async throws -> Booster {
        let bytes: Data
        let root = context.configuration.dataDir.hasSuffix("/") ? String(context.configuration.dataDir.dropLast()) : context.configuration.dataDir
        if uri.hasPrefix(root + "/") {
            bytes = try await context.store.get(String(uri.dropFirst(root.count + 1)))
        } else {
            guard uri.hasPrefix("s3://"), let slash = uri.dropFirst(5).firstIndex(of: "/") else {
                throw StoreError(key: uri, message: "model artifacts are not at an s3:// URI", code: .badInput)
            }
            let bucket = String(uri[uri.index(uri.startIndex, offsetBy: 5)..<slash])
            bytes = try await S3ObjectStore(url: "s3://\(bucket)", configuration: aws).get(String(uri[uri.index(after: slash)...]))
        }
        let files: [String: Data]
        do { files = try TarArchive.files(try Gzip.decompress(bytes)) } catch {
            throw StoreError(key: uri, message: "not a gzipped tar archive: \(error)", code: .badInput)
        }
        guard let modelFile = files["xgboost-model"] else {
            throw StoreError(key: uri, message: "holds no xgboost-model (it has \(files.keys.sorted().joined(separator: ", ")))", code: .badInput)
        }
        if modelFile.first == 0x80 {
            throw StoreError(key: uri, message: "xgboost-model is a pickled Python object, as containers before 1.3-1 write it; the C API loads models from \(SageMakerImages.loadableVersions.joined(separator: ", ")) (set sagemaker.container_version)", code: .badInput)
        }
        try await context.store.put(plan.folder + "/\(model)/model/xgboost-model", data: modelFile)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("conviction-sagemaker-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: modelFile) else { throw StoreError(key: path, message: "cannot write a temporary file") }
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Booster(library: library, loadingFrom: path)
    }
}
