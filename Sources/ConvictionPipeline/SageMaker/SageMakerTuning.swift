import ConvictionAWS
import ConvictionCore
import ConvictionModeling
import ConvictionStore
import Foundation

/// The tuning jobs for an export, one per model: the local search space translated to SageMaker's
/// ranges, the search's rounds and early stopping as static hyperparameters, and the export's
/// tuning channels. Submitted jobs are recorded in `<prefix>/<run>/tuning.json`.
public enum SageMakerTuning {
    /// The local search's names that SageMaker's XGBoost spells differently.
    static let sageMakerNames = ["learning_rate": "eta"]

    public static func ranges(_ space: SearchSpace) -> [SageMakerTuningJob.Range] {
        space.parameters.map { p in
            SageMakerTuningJob.Range(name: sageMakerNames[p.name] ?? p.name, low: p.low, high: p.high, log: p.log, integer: p.integer)
        }
    }

    /// Tuned values as the local fitting takes them (SageMaker's names mapped back).
    public static func localParameters(_ tuned: [String: String]) -> [String: Double] {
        var out: [String: Double] = [:]
        for (name, value) in tuned { if let v = Double(value) { out[localName(name)] = v } }
        return out
    }

    public static func localName(_ sageMakerName: String) -> String {
        sageMakerNames.first { $0.value == sageMakerName }?.key ?? sageMakerName
    }

    /// What is recorded after a submission.
    public struct Record: Codable, Sendable {
        public let run: String
        /// Tuning job name by model.
        public let jobs: [String: String]
        public let submittedAt: String
        public let image: String

        public init(run: String, jobs: [String: String], submittedAt: String, image: String) {
            self.run = run; self.jobs = jobs; self.submittedAt = submittedAt; self.image = image
        }

        public func encoded() throws -> Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return try encoder.encode(self)
        }
    }

    public static func recordKey(_ plan: SageMakerExport.Plan) -> String { plan.folder + "/tuning.json" }

    /// The region's built-in image unless `sagemaker.image` names one.
    public static func image(_ configuration: ConvictionConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if !configuration.sagemaker.image.isEmpty { return configuration.sagemaker.image }
        let region = [configuration.aws.region, environment["AWS_REGION"] ?? "", environment["AWS_DEFAULT_REGION"] ?? ""].first { !$0.isEmpty } ?? "us-east-1"
        return try SageMakerImages.uri(region: region, version: configuration.sagemaker.containerVersion)
    }

    /// One tuning job per model; `stamp` keeps names unique across resubmissions.
    public static func jobs(plan: SageMakerExport.Plan, configuration: ConvictionConfiguration, image: String,
                            stamp: String) -> [(model: String, job: SageMakerTuningJob)] {
        let root = configuration.dataDir.hasSuffix("/") ? String(configuration.dataDir.dropLast()) : configuration.dataDir
        let search = configuration.training.search
        let hash = plan.run.replacingOccurrences(of: "sm-", with: "").prefix(8)
        return SageMakerExport.models.map { model in
            let statics = ["objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist",
                           "num_round": String(search.maxRounds), "early_stopping_rounds": String(search.earlyStoppingRounds),
                           "seed": String(configuration.training.seed)]
            var job = SageMakerTuningJob(
                name: "conv-\(hash)-\(model.prefix(4))-\(stamp)", settings: configuration.sagemaker, image: image,
                ranges: ranges(search.space), staticHyperParameters: statics,
                trainURI: "\(root)/\(plan.channel(model, "tuning", "train"))", validationURI: "\(root)/\(plan.channel(model, "tuning", "validation"))",
                outputURI: "\(root)/\(plan.folder)/\(model)/output/", checkpointURI: "\(root)/\(plan.folder)/\(model)/checkpoints/")
            job.minResource = min(search.evaluationInterval, search.maxRounds)
            job.maxResource = search.maxRounds
            return (model, job)
        }
    }

    /// `yyMMddHHmm` in UTC.
    public static func stamp(now: Int64 = Timestamps.now()) -> String {
        let full = Timestamps.compactStamp(now)  // yyyyMMddTHHmmssZ
        return String(full.dropFirst(2).prefix(6) + full.dropFirst(9).prefix(4))
    }
}
