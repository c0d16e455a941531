import ConvictionAWS
import ConvictionCore
import ConvictionFeatures
import ConvictionIngest
import ConvictionModeling
import ConvictionScoring
import Foundation

extension ConvictionConfiguration {
    static let awsKeys: [Key] = [
        Key(name: "aws.region", help: "AWS region; empty = AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, else us-east-1.",
            get: { .string($0.aws.region) }, set: { c, v throws(ValueError) in c.aws.region = try string(v) }),
        Key(name: "aws.endpoint", help: "Endpoint override (S3-compatible service, moto_server); empty = AWS_ENDPOINT_URL or AWS.",
            get: { .string($0.aws.endpoint) }, set: { c, v throws(ValueError) in c.aws.endpoint = try url(v) }),
        Key(name: "aws.profile", help: "Profile in ~/.aws/credentials; empty = AWS_PROFILE or default.",
            get: { .string($0.aws.profile) }, set: { c, v throws(ValueError) in c.aws.profile = try string(v) }),
        Key(name: "aws.create_bucket", help: "Create the data.dir bucket when it does not exist.",
            get: { .bool($0.aws.createBucket) }, set: { c, v throws(ValueError) in c.aws.createBucket = try bool(v) }),
        Key(name: "aws.imds_endpoint", help: "Instance metadata endpoint for instance-role credentials (IMDSv2); empty = AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 (never asked when AWS_EC2_METADATA_DISABLED=true).",
            get: { .string($0.aws.imdsEndpoint) }, set: { c, v throws(ValueError) in c.aws.imdsEndpoint = try string(v) }),
        Key(name: "secrets.source", help: "Where X credentials come from: environment, or secretsmanager (environment as fallback).",
            get: { .string($0.secrets.source.rawValue) }, set: { c, v throws(ValueError) in c.secrets.source = try choice(v) }),
        Key(name: "secrets.layout", help: "json: one secret with all five keys (secret_id); per_key: one secret per key named <prefix>/<KEY>.",
            get: { .string($0.secrets.layout.rawValue) }, set: { c, v throws(ValueError) in c.secrets.layout = try choice(v) }),
        Key(name: "secrets.secret_id", help: "The JSON secret's name or ARN.",
            get: { .string($0.secrets.secretID) }, set: { c, v throws(ValueError) in c.secrets.secretID = try string(v) }),
        Key(name: "secrets.prefix", help: "Name prefix of per-key secrets.",
            get: { .string($0.secrets.prefix) }, set: { c, v throws(ValueError) in c.secrets.prefix = try string(v) }),
        Key(name: "secrets.cache_ttl_seconds", help: "How long resolved credentials are cached in memory.",
            get: { .integer($0.secrets.cacheTTL.wholeSeconds) }, set: { c, v throws(ValueError) in c.secrets.cacheTTL = try wholeSeconds(v, 0...86_400) }),
    ]
}

extension ConvictionConfiguration {
    static let monitoringKeys: [Key] = [
        Key(name: "monitoring.cloudwatch", help: "Publish metrics to CloudWatch (PutMetricData) and ship logs to CloudWatch Logs.",
            get: { .bool($0.monitoring.cloudwatch) }, set: { c, v throws(ValueError) in c.monitoring.cloudwatch = try bool(v) }),
        Key(name: "monitoring.namespace", help: "CloudWatch metric namespace.",
            get: { .string($0.monitoring.namespace) }, set: { c, v throws(ValueError) in c.monitoring.namespace = try string(v) }),
        Key(name: "monitoring.log_group", help: "CloudWatch Logs group; each process writes its own stream <host>/<command>/<pid>-<start>.",
            get: { .string($0.monitoring.logGroup) }, set: { c, v throws(ValueError) in c.monitoring.logGroup = try string(v) }),
        Key(name: "monitoring.flush_seconds", help: "How often metrics and logs are sent to CloudWatch (and once more at exit).",
            get: { .integer($0.monitoring.flushSeconds) }, set: { c, v throws(ValueError) in c.monitoring.flushSeconds = try int(v, 1...3600) }),
        Key(name: "monitoring.log_buffer_lines", help: "Log lines held for CloudWatch Logs at most; more are dropped and counted (logging never waits).",
            get: { .integer($0.monitoring.logBufferLines) }, set: { c, v throws(ValueError) in c.monitoring.logBufferLines = try int(v, 100...1_000_000) }),
    ]
}

extension ConvictionConfiguration {
    static let sagemakerKeys: [Key] = [
        Key(name: "sagemaker.role_arn", help: "IAM role SageMaker runs tuning jobs as (conviction sagemaker submit; docs/scale-out.md).",
            get: { .string($0.sagemaker.roleARN) }, set: { c, v throws(ValueError) in c.sagemaker.roleARN = try string(v) }),
        Key(name: "sagemaker.container_version", help: "Built-in XGBoost container version; 1.3-1 and later write models the C API loads.",
            get: { .string($0.sagemaker.containerVersion) }, set: { c, v throws(ValueError) in c.sagemaker.containerVersion = try string(v) }),
        Key(name: "sagemaker.image", help: "Training image URI; empty = the built-in XGBoost image of aws.region and container_version.",
            get: { .string($0.sagemaker.image) }, set: { c, v throws(ValueError) in c.sagemaker.image = try string(v) }),
        Key(name: "sagemaker.instance_type", help: "Training instance type.",
            get: { .string($0.sagemaker.instanceType) }, set: { c, v throws(ValueError) in c.sagemaker.instanceType = try string(v) }),
        Key(name: "sagemaker.strategy", help: "bayesian, hyperband or random.",
            get: { .string($0.sagemaker.strategy.rawValue) }, set: { c, v throws(ValueError) in c.sagemaker.strategy = try choice(v) }),
        Key(name: "sagemaker.early_stopping", help: "default (Auto, Off for hyperband), auto or off: TrainingJobEarlyStoppingType.",
            get: { .string($0.sagemaker.earlyStopping.rawValue) }, set: { c, v throws(ValueError) in c.sagemaker.earlyStopping = try choice(v) }),
        Key(name: "sagemaker.max_jobs", help: "Training jobs per tuning job.",
            get: { .integer($0.sagemaker.maxJobs) }, set: { c, v throws(ValueError) in c.sagemaker.maxJobs = try int(v, 1...750) }),
        Key(name: "sagemaker.max_parallel_jobs", help: "Training jobs at once (at most max_jobs).",
            get: { .integer($0.sagemaker.maxParallelJobs) }, set: { c, v throws(ValueError) in c.sagemaker.maxParallelJobs = try int(v, 1...100) }),
        Key(name: "sagemaker.spot", help: "Managed spot training, with checkpoints in the run's folder.",
            get: { .bool($0.sagemaker.spot) }, set: { c, v throws(ValueError) in c.sagemaker.spot = try bool(v) }),
        Key(name: "sagemaker.max_runtime_seconds", help: "Longest a training job may run.",
            get: { .integer($0.sagemaker.maxRuntimeSeconds) }, set: { c, v throws(ValueError) in c.sagemaker.maxRuntimeSeconds = try int(v, 60...2_419_200) }),
        Key(name: "sagemaker.max_wait_seconds", help: "With spot: longest a job may take, waiting for capacity included (at least max_runtime_seconds).",
            get: { .integer($0.sagemaker.maxWaitSeconds) }, set: { c, v throws(ValueError) in c.sagemaker.maxWaitSeconds = try int(v, 60...2_419_200) }),
        Key(name: "sagemaker.prefix", help: "Store folder for exports, tuning records and models (the plan's data/sagemaker).",
            get: { .string($0.sagemaker.prefix) }, set: { c, v throws(ValueError) in c.sagemaker.prefix = try string(v) }),
    ]
}
