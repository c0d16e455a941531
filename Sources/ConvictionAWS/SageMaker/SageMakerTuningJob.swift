import ConvictionCore
import Foundation

/// A `CreateHyperParameterTuningJob` request for the built-in XGBoost algorithm: objective
/// `validation:auc` over a `train` and a `validation` channel of CSV (label first, no header).
///
/// botocore's service model checks shapes, required members, enums and ranges; it does not know
/// the rules between fields that SageMaker enforces when the job is created, so `problems` checks
/// those before anything is sent.
public struct SageMakerTuningJob: Sendable {
    /// A hyperparameter's range, as the local search space has it.
    public struct Range: Sendable, Equatable {
        public var name: String
        public var low: Double
        public var high: Double
        public var log: Bool
        public var integer: Bool
        public init(name: String, low: Double, high: Double, log: Bool, integer: Bool) {
            self.name = name; self.low = low; self.high = high; self.log = log; self.integer = integer
        }
    }

    public var name: String
    public var settings: SageMakerSettings
    public var image: String
    public var ranges: [Range]
    /// Hyperparameters every training job gets (objective, rounds, early stopping...).
    public var staticHyperParameters: [String: String]
    public var trainURI: String
    public var validationURI: String
    public var outputURI: String
    public var checkpointURI: String
    /// Hyperband's resource bounds: boosting rounds.
    public var minResource = 10
    public var maxResource = 400

    public init(name: String, settings: SageMakerSettings, image: String, ranges: [Range], staticHyperParameters: [String: String],
                trainURI: String, validationURI: String, outputURI: String, checkpointURI: String) {
        self.name = name; self.settings = settings; self.image = image; self.ranges = ranges
        self.staticHyperParameters = staticHyperParameters; self.trainURI = trainURI; self.validationURI = validationURI
        self.outputURI = outputURI; self.checkpointURI = checkpointURI
    }

    public static let objectiveMetric = "validation:auc"

    /// The request body.
    public var request: [String: Any] {
        var integers: [[String: String]] = [], continuous: [[String: String]] = []
        for range in ranges {
            var entry = ["Name": range.name, "MinValue": Self.number(range.low, integer: range.integer),
                         "MaxValue": Self.number(range.high, integer: range.integer), "ScalingType": range.log ? "Logarithmic" : "Linear"]
            if range.integer { integers.append(entry) } else { continuous.append(entry) }
        }
        var config: [String: Any] = [
            "Strategy": settings.strategy.apiName,
            "HyperParameterTuningJobObjective": ["Type": "Maximize", "MetricName": Self.objectiveMetric],
            "ResourceLimits": ["MaxNumberOfTrainingJobs": settings.maxJobs, "MaxParallelTrainingJobs": settings.maxParallelJobs],
            "ParameterRanges": ["IntegerParameterRanges": integers, "ContinuousParameterRanges": continuous, "CategoricalParameterRanges": [[String: Any]]()],
            "TrainingJobEarlyStoppingType": settings.earlyStoppingType,
        ]
        if settings.strategy == .hyperband {
            config["StrategyConfig"] = ["HyperbandStrategyConfig": ["MinResource": minResource, "MaxResource": maxResource]]
        }
        func channel(_ name: String, _ uri: String) -> [String: Any] {
            ["ChannelName": name, "ContentType": "text/csv", "CompressionType": "None", "InputMode": "File",
             "DataSource": ["S3DataSource": ["S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"]]]
        }
        var stopping: [String: Int] = ["MaxRuntimeInSeconds": settings.maxRuntimeSeconds]
        if settings.spot { stopping["MaxWaitTimeInSeconds"] = settings.maxWaitSeconds }
        var definition: [String: Any] = [
            "StaticHyperParameters": staticHyperParameters,
            "AlgorithmSpecification": ["TrainingImage": image, "TrainingInputMode": "File"],
            "RoleArn": settings.roleARN,
            "InputDataConfig": [channel("train", trainURI), channel("validation", validationURI)],
            "OutputDataConfig": ["S3OutputPath": outputURI],
            "ResourceConfig": ["InstanceType": settings.instanceType, "InstanceCount": settings.instanceCount, "VolumeSizeInGB": settings.volumeGB],
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": settings.spot,
        ]
        if settings.spot { definition["CheckpointConfig"] = ["S3Uri": checkpointURI] }
        return ["HyperParameterTuningJobName": name, "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition,
                "Tags": [["Key": "conviction:job", "Value": "tuning"]]]
    }

    /// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`, at most 32 characters.
    static func isValidName(_ name: String) -> Bool {
        let ascii = name.unicodeScalars
        func alphanumeric(_ c: Unicode.Scalar) -> Bool { c.isASCII && (CharacterSet.alphanumerics.contains(c)) }
        guard (1...32).contains(ascii.count), let first = ascii.first, let last = ascii.last, alphanumeric(first), alphanumeric(last) else { return false }
        return ascii.allSatisfy { alphanumeric($0) || $0 == "-" }
    }

    static func number(_ value: Double, integer: Bool) -> String {
        integer ? String(Int(value.rounded())) : String(format: "%.9g", value)
    }

    public func json() throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: request, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// The rules between fields that SageMaker enforces and botocore's shapes do not; empty when
    /// the request can be sent.
    public var problems: [String] {
        var found: [String] = []
        let s = settings
        if !Self.isValidName(name) {
            found.append("tuning job name \(name.debugDescription): 1 to 32 letters, digits and hyphens, starting and ending with a letter or digit")
        }
        if s.strategy == .hyperband && s.earlyStoppingType != "Off" {
            found.append("sagemaker.strategy = \"hyperband\" needs sagemaker.early_stopping = \"off\" (or \"default\"): Hyperband stops jobs itself and SageMaker refuses TrainingJobEarlyStoppingType Auto with it")
        }
        if s.strategy == .hyperband && !(1...maxResource).contains(minResource) {
            found.append("Hyperband's MinResource (\(minResource)) must be between 1 and MaxResource (\(maxResource))")
        }
        if s.maxParallelJobs > s.maxJobs {
            found.append("sagemaker.max_parallel_jobs (\(s.maxParallelJobs)) exceeds sagemaker.max_jobs (\(s.maxJobs))")
        }
        if s.spot && s.maxWaitSeconds < s.maxRuntimeSeconds {
            found.append("sagemaker.max_wait_seconds (\(s.maxWaitSeconds)) must be at least sagemaker.max_runtime_seconds (\(s.maxRuntimeSeconds)) with managed spot training")
        }
        if s.roleARN.isEmpty || !s.roleARN.hasPrefix("arn:") || !s.roleARN.contains(":role/") {
            found.append("sagemaker.role_arn \(s.roleARN.isEmpty ? "is not set" : "(\(s.roleARN)) is not an IAM role ARN"): SageMaker runs the jobs as this role (docs/scale-out.md gives its policy)")
        }
        if s.strategy == .bayesian && ranges.count > 30 {
            found.append("Bayesian search takes at most 30 ranges, not \(ranges.count)")
        }
        for range in ranges {
            if !(range.low < range.high) { found.append("range \(range.name): MinValue \(range.low) is not below MaxValue \(range.high)") }
            if range.log && range.low <= 0 { found.append("range \(range.name): Logarithmic scaling needs MinValue above 0") }
            if staticHyperParameters[range.name] != nil { found.append("\(range.name) is both tuned and static") }
        }
        if !(staticHyperParameters["eval_metric"] ?? "").split(separator: ",").contains("auc") {
            found.append("the objective \(Self.objectiveMetric) needs eval_metric to include auc")
        }
        for uri in [trainURI, validationURI, outputURI] + (s.spot ? [checkpointURI] : []) where !uri.hasPrefix("s3://") {
            found.append("\(uri) is not an s3:// URI: SageMaker reads and writes S3 only (data.dir must be s3://bucket/prefix)")
        }
        return found
    }

    public struct Invalid: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let problems: [String]
        public init(problems: [String]) { self.problems = problems }
        public var description: String { "the tuning job would be refused: " + problems.joined(separator: "; ") }
    }
}
