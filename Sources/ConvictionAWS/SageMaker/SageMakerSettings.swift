import ConvictionCore
import Foundation

/// How tuning runs on SageMaker (`[sagemaker]`): the built-in XGBoost algorithm, its instances,
/// the search strategy and its limits, managed spot training.
public struct SageMakerSettings: Sendable, Hashable, Codable {
    public enum Strategy: String, Sendable, Hashable, Codable, CaseIterable {
        case bayesian, hyperband, random

        /// The API's spelling.
        public var apiName: String {
            switch self {
            case .bayesian: "Bayesian"
            case .hyperband: "Hyperband"
            case .random: "Random"
            }
        }
    }

    /// `TrainingJobEarlyStoppingType`: `default` is Auto for Bayesian and Random and Off for
    /// Hyperband, which stops poor jobs itself and refuses Auto.
    public enum EarlyStopping: String, Sendable, Hashable, Codable, CaseIterable { case `default`, auto, off }

    /// The execution role SageMaker assumes (reads the channels, writes the model and checkpoints).
    public var roleARN = ""
    /// The built-in XGBoost container version (the image comes from `SageMakerImages`).
    public var containerVersion = "1.7-1"
    /// A training image of your own instead of the built-in one (same interface).
    public var image = ""
    public var instanceType = "ml.m5.xlarge"
    public var instanceCount = 1
    public var volumeGB = 10
    public var strategy = Strategy.bayesian
    public var earlyStopping = EarlyStopping.default
    public var maxJobs = 20
    public var maxParallelJobs = 2
    /// Managed spot training: jobs may wait for capacity up to `maxWaitSeconds`, and resume from
    /// their checkpoints when an instance is reclaimed.
    public var spot = true
    public var maxRuntimeSeconds = 3600
    public var maxWaitSeconds = 7200
    /// Where in the store exports go (the plan's path).
    public var prefix = "data/sagemaker"

    public init() {}

    /// The early stopping type the tuning job asks for.
    public var earlyStoppingType: String {
        switch earlyStopping {
        case .auto: "Auto"
        case .off: "Off"
        case .default: strategy == .hyperband ? "Off" : "Auto"
        }
    }
}

/// The built-in XGBoost algorithm's training images: `<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version>`.
/// The accounts are AWS's, as the SageMaker Python SDK lists them (`image_uri_config/xgboost.json`)
/// for versions 0.90-1 to 1.7-1; a region not listed here needs `sagemaker.image`.
public enum SageMakerImages {
    public static let accounts: [String: String] = [
        "us-east-1": "683313688378", "us-east-2": "257758044811", "us-west-1": "746614075791", "us-west-2": "246618743249",
        "ca-central-1": "341280168497", "sa-east-1": "737474898029",
        "eu-west-1": "141502667606", "eu-west-2": "764974769150", "eu-west-3": "659782779980", "eu-central-1": "492215442770",
        "eu-north-1": "662702820516", "eu-south-1": "978288397137",
        "ap-northeast-1": "354813040037", "ap-northeast-2": "366743142698", "ap-northeast-3": "867004704886",
        "ap-southeast-1": "121021644041", "ap-southeast-2": "783357654285", "ap-south-1": "720646828776", "ap-east-1": "651117190479",
        "me-south-1": "801668240914", "af-south-1": "510948584623",
        "cn-north-1": "450853457545", "cn-northwest-1": "451049120500",
    ]

    /// Container versions whose `xgboost-model` the XGBoost C API loads: from 1.3-1 the container
    /// saves with `Booster.save_model` (XGBoost's own format); 0.90-x, 1.0-1 and 1.2-x pickle the
    /// Python object, which only Python can read.
    public static let loadableVersions = ["1.3-1", "1.5-1", "1.7-1"]
    public static let versions = ["0.90-1", "0.90-2", "1.0-1", "1.2-1", "1.2-2"] + loadableVersions

    public struct Unknown: ConvictionError {
        public var errorCode: ErrorCode { .configuration }
        public let description: String
    }

    public static func uri(region: String, version: String) throws -> String {
        guard versions.contains(version) else {
            throw Unknown(description: "sagemaker.container_version \(version) is not a built-in XGBoost version (\(versions.joined(separator: ", "))); set sagemaker.image for another image")
        }
        guard let account = accounts[region] else {
            throw Unknown(description: "no built-in XGBoost image is listed for region \(region); set sagemaker.image to its URI")
        }
        let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "\(account).dkr.ecr.\(region).\(domain)/sagemaker-xgboost:\(version)"
    }
}
