import ConvictionAWS
import Foundation
import Testing

/// The rules between fields of CreateHyperParameterTuningJob that SageMaker enforces and
/// botocore's shapes do not: each one is caught before anything is sent, by name.
@Suite struct SageMakerTuningJobTests {
    func job(_ change: (inout SageMakerTuningJob) -> Void = { _ in }) -> SageMakerTuningJob {
        var settings = SageMakerSettings()
        settings.roleARN = "arn:aws:iam::123456789012:role/conviction-sagemaker"
        var job = SageMakerTuningJob(
            name: "conv-1a2b3c4d-sent-2612051200", settings: settings, image: try! SageMakerImages.uri(region: "us-east-1", version: "1.7-1"),
            ranges: [.init(name: "max_depth", low: 2, high: 8, log: false, integer: true), .init(name: "eta", low: 0.01, high: 0.3, log: true, integer: false)],
            staticHyperParameters: ["objective": "binary:logistic", "eval_metric": "auc", "num_round": "400"],
            trainURI: "s3://b/p/data/sagemaker/sm-1/sentiment/tuning/train/", validationURI: "s3://b/p/data/sagemaker/sm-1/sentiment/tuning/validation/",
            outputURI: "s3://b/p/data/sagemaker/sm-1/sentiment/output/", checkpointURI: "s3://b/p/data/sagemaker/sm-1/sentiment/checkpoints/")
        change(&job)
        return job
    }

    @Test func theDefaultJobHasNoProblemsAndAsksForSpotWithCheckpoints() throws {
        let j = job()
        #expect(j.problems.isEmpty, "\(j.problems)")
        let definition = try #require(j.request["TrainingJobDefinition"] as? [String: Any])
        #expect(definition["EnableManagedSpotTraining"] as? Bool == true)
        #expect((definition["StoppingCondition"] as? [String: Int])?["MaxWaitTimeInSeconds"] == 7200)
        #expect((definition["CheckpointConfig"] as? [String: String])?["S3Uri"] == "s3://b/p/data/sagemaker/sm-1/sentiment/checkpoints/")
        let config = try #require(j.request["HyperParameterTuningJobConfig"] as? [String: Any])
        #expect(config["TrainingJobEarlyStoppingType"] as? String == "Auto" && config["StrategyConfig"] == nil)
        #expect((config["HyperParameterTuningJobObjective"] as? [String: String]) == ["Type": "Maximize", "MetricName": "validation:auc"])
    }

    @Test func hyperbandRefusesAutoEarlyStoppingAndDefaultsToOff() throws {
        let refused = job { $0.settings.strategy = .hyperband; $0.settings.earlyStopping = .auto }
        #expect(refused.problems.contains { $0.contains("needs sagemaker.early_stopping = \"off\"") }, "\(refused.problems)")
        let defaulted = job { $0.settings.strategy = .hyperband }
        #expect(defaulted.problems.isEmpty, "\(defaulted.problems)")
        let config = try #require(defaulted.request["HyperParameterTuningJobConfig"] as? [String: Any])
        #expect(config["TrainingJobEarlyStoppingType"] as? String == "Off")
        #expect((config["StrategyConfig"] as? [String: [String: Int]])?["HyperbandStrategyConfig"] == ["MinResource": 10, "MaxResource": 400])
        let bounds = job { $0.settings.strategy = .hyperband; $0.minResource = 500 }
        #expect(bounds.problems.contains { $0.contains("MinResource (500) must be between 1 and MaxResource (400)") })
    }

    @Test func eachCrossFieldRuleIsNamed() {
        let cases: [(String, (inout SageMakerTuningJob) -> Void)] = [
            ("exceeds sagemaker.max_jobs", { $0.settings.maxParallelJobs = 30 }),
            ("must be at least sagemaker.max_runtime_seconds", { $0.settings.maxWaitSeconds = 600 }),
            ("sagemaker.role_arn is not set", { $0.settings.roleARN = "" }),
            ("is not an IAM role ARN", { $0.settings.roleARN = "arn:aws:iam::123456789012:user/me" }),
            ("1 to 32 letters", { $0.name = "conviction-tuning-job-with-a-long-name" }),
            ("1 to 32 letters", { $0.name = "-starts-with-a-hyphen" }),
            ("Logarithmic scaling needs MinValue above 0", { $0.ranges.append(.init(name: "alpha", low: 0, high: 1, log: true, integer: false)) }),
            ("is both tuned and static", { $0.staticHyperParameters["eta"] = "0.1" }),
            ("needs eval_metric to include auc", { $0.staticHyperParameters["eval_metric"] = "logloss" }),
            ("is not an s3:// URI", { $0.trainURI = "data/data/sagemaker/sm-1/sentiment/tuning/train/" }),
            ("at most 30 ranges", { $0.ranges = (0..<31).map { .init(name: "p\($0)", low: 0, high: 1, log: false, integer: false) } }),
        ]
        for (expected, change) in cases {
            let problems = job(change).problems
            #expect(problems.contains { $0.contains(expected) }, "\(expected): \(problems)")
        }
        // Without spot, no wait and no checkpoint are asked for, and a short wait is no problem.
        let onDemand = job { $0.settings.spot = false; $0.settings.maxWaitSeconds = 60 }
        #expect(onDemand.problems.isEmpty, "\(onDemand.problems)")
        let definition = onDemand.request["TrainingJobDefinition"] as? [String: Any] ?? [:]
        #expect(definition["CheckpointConfig"] == nil && (definition["StoppingCondition"] as? [String: Int])?["MaxWaitTimeInSeconds"] == nil)
    }

    @Test func theBuiltInImageComesFromTheRegionsRegistry() throws {
        #expect(try SageMakerImages.uri(region: "us-east-1", version: "1.7-1") == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")
        #expect(try SageMakerImages.uri(region: "eu-west-1", version: "1.5-1") == "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.5-1")
        #expect(try SageMakerImages.uri(region: "cn-north-1", version: "1.7-1").hasSuffix(".amazonaws.com.cn/sagemaker-xgboost:1.7-1"))
        #expect(throws: SageMakerImages.Unknown.self) { try SageMakerImages.uri(region: "mars-north-1", version: "1.7-1") }
        #expect(throws: SageMakerImages.Unknown.self) { try SageMakerImages.uri(region: "us-east-1", version: "9.9-9") }
        #expect(!SageMakerImages.loadableVersions.contains("1.2-2") && SageMakerImages.loadableVersions.contains("1.7-1"))
    }
}
