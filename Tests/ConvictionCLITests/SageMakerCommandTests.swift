import ConvictionAWS
import ConvictionTesting
import Foundation
import Testing

/// `conviction train --engine sagemaker` and `conviction sagemaker export|submit|status|fetch` on an
/// S3 store in moto_server:
/// - the dry run prints both tuning jobs and the export plan, writes nothing, and every request
///   (Bayesian, Hyperband, Random) passes botocore's CreateHyperParameterTuningJob model;
/// - Python xgboost reads the exported CSV channels (`?format=csv&label_column=0`) and, trained with
///   the local parameters, predicts every fold's test rows as local training did, within 1e-6;
/// - submit and status go through moto; fetch loads each best model's `model.tar.gz` through the C
///   API, scores the held-out rows and reports local and SageMaker side by side.
///
/// moto stubs tuning: every job "completes" at once and names one placeholder best job. The server
/// here is moto with that stub patched to name `<tuning job>-best` with tuned values inside the
/// ranges; the test creates those training jobs in moto and leaves in S3 the model a built-in
/// container 1.7-1 would: `xgboost-model` in XGBoost's binary format, trained on the tuning channel.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: TestSupport.pythonHas("boto3") && TestSupport.pythonHas("xgboost") && TestSupport.pythonHas("moto"),
                "needs boto3, xgboost and moto in .venv: run make setup"))
struct SageMakerCommandTests {
    static let motoWithBestJobs = #"""
    import sys
    import moto.sagemaker.models as models
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    original = models.HyperParameterTuningJob.__init__
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        ranges = self.hyper_parameter_tuning_job_config["ParameterRanges"]
        tuned = {r["Name"]: str(round((float(r["MinValue"]) + float(r["MaxValue"])) / 2)) for r in ranges.get("IntegerParameterRanges", [])}
        tuned.update({r["Name"]: str((float(r["MinValue"]) * float(r["MaxValue"])) ** 0.5) for r in ranges.get("ContinuousParameterRanges", [])})
        self.best_training_job = dict(self.best_training_job, TrainingJobName=self.hyper_parameter_tuning_job_name + "-best", TunedHyperParameters=tuned,
                                      FinalHyperParameterTuningJobObjectiveMetric={"Type": "Maximize", "MetricName": "validation:auc", "Value": 0.5})
    models.HyperParameterTuningJob.__init__ = init
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server._server.server_address[1], flush=True)
    import threading; threading.Event().wait()
    """#

    /// `parity BUCKET`: trains on each fold's exported channels with the local parameters and prints
    /// the largest difference from the run's test predictions, and what the export holds.
    /// `models BUCKET ROLE`: for each submitted tuning job, a training job named as moto's best
    /// and its model.tar.gz; prints the models' AUC on the held-out rows.
    static let helper = #"""
    import boto3, csv, io, json, os, sys, tarfile, tempfile, warnings
    import numpy as np, xgboost as xgb
    warnings.simplefilter("ignore")
    mode, endpoint, bucket = sys.argv[1:4]
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    s3 = boto3.client("s3", **kw)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="data/") for o in page.get("Contents", [])]
    exports = sorted({k.split("/")[3] for k in keys if k.startswith("data/data/sagemaker/sm-")})
    tmp = tempfile.mkdtemp()
    def fetch(key):
        path = os.path.join(tmp, key.replace("/", "_"))
        if not os.path.exists(path): s3.download_file(bucket, key, path)
        return path
    def matrix(key): return xgb.DMatrix(fetch(key) + "?format=csv&label_column=0")
    def auc(scores, labels):
        order = np.argsort(scores, kind="mergesort"); ranks = np.empty(len(scores)); ranks[order] = np.arange(1, len(scores) + 1)
        s = np.asarray(scores)
        for v in np.unique(s): ranks[s == v] = ranks[s == v].mean()
        pos = labels == 1; n1, n0 = pos.sum(), (~pos).sum()
        return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    if mode == "list":
        print(json.dumps({"exports": exports, "sagemaker": [k for k in keys if k.startswith("data/data/sagemaker/")]})); sys.exit()
    run = exports[0]
    root = f"data/data/sagemaker/{run}"
    plan = json.load(open(fetch(root + "/export.json")))
    folds = [f["index"] for f in plan["folds"]]
    if mode == "parity":
        params = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "max_depth": "3", "eta": "0.05", "subsample": "0.8",
                  "colsample_bytree": "0.8", "min_child_weight": "50.0", "seed": "7", "nthread": "2", "base_score": "0.5", "verbosity": "0"}
        predictions = {}
        for model in ["baseline", "sentiment"]:
            out = []
            for k in folds:
                booster = xgb.train(params, matrix(f"{root}/{model}/fold-{k}/train/part-0.csv"), num_boost_round=150)
                out += list(booster.predict(matrix(f"{root}/{model}/fold-{k}/validation/part-0.csv")))
            predictions[model] = np.array(out, dtype=np.float64)
        report = [k for k in keys if k.startswith("data/runs/") and k.endswith("test_predictions.csv")][0]
        rows = list(csv.DictReader(open(fetch(report))))
        local = {"baseline": np.array([float(r["baseline_prob"]) for r in rows]), "sentiment": np.array([float(r["with_sentiment_prob"]) for r in rows])}
        first = open(fetch(f"{root}/sentiment/tuning/train/part-0.csv")).readline()
        print(json.dumps({"rows": len(rows), "python_rows": len(predictions["baseline"]),
                          "max_diff": max(float(np.max(np.abs(predictions[m] - local[m]))) for m in local),
                          "first_line_fields": len(first.split(",")), "sentiment_columns": len(plan["columns"]["sentiment"]),
                          "label_first": first.split(",")[0] in ("0", "1"),
                          "metadata": [k for k in keys if k.endswith("feature_metadata.json")]}))
    if mode == "models":
        sm = boto3.client("sagemaker", **kw)
        tuning = json.load(open(fetch(root + "/tuning.json")))
        result = {}
        for model, job in tuning["jobs"].items():
            best = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job)["BestTrainingJob"]
            params = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "seed": "7", **best["TunedHyperParameters"]}
            booster = xgb.train(params, matrix(f"{root}/{model}/tuning/train/part-0.csv"), num_boost_round=40)
            output = f"s3://{bucket}/{root}/{model}/output/"
            sm.create_training_job(TrainingJobName=best["TrainingJobName"], AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
                                   RoleArn=sys.argv[4], OutputDataConfig={"S3OutputPath": output},
                                   ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
                                   StoppingCondition={"MaxRuntimeInSeconds": 3600})
            path = os.path.join(tmp, model + ".deprecated"); booster.save_model(path)
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w:gz") as tar: tar.add(path, arcname="xgboost-model")
            s3.put_object(Bucket=bucket, Key=f"{root}/{model}/output/{best['TrainingJobName']}/output/model.tar.gz", Body=archive.getvalue())
            scores, labels = [], []
            for k in folds:
                m = matrix(f"{root}/{model}/fold-{k}/validation/part-0.csv")
                scores += list(booster.predict(m)); labels += list(m.get_label())
            result[model] = auc(np.array(scores, dtype=np.float64), np.array(labels))
        print(json.dumps(result))
    """#

    func helper(_ arguments: [String]) async throws -> [String: Any] {
        let python = try #require(TestSupport.python)
        let r = try await TestSupport.runOffPool(python, ["-c", Self.helper] + arguments, environment: ["PATH": "/usr/bin:/bin"], timeout: 300)
        try #require(r.status == 0, "\(arguments.first ?? ""): \(r.stderr.suffix(2000))")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
    }

    /// The tuning job requests a dry run prints, one JSON object after each "plan: tuning job" line.
    static func requests(_ stdout: String) -> [String] {
        stdout.components(separatedBy: "\nplan: ").dropFirst().filter { $0.hasPrefix("tuning job") }
            .map { String($0.drop { $0 != "{" }) }
    }

    func validate(_ request: String, operation: String = "CreateHyperParameterTuningJob") async throws -> TestSupport.ProcessResult {
        try await TestSupport.runOffPool(TestSupport.python ?? "/usr/bin/python3",
                                         [TestSupport.packageRoot.appendingPathComponent("scripts/check-aws-request.py").path, "sagemaker", operation],
                                         environment: ["PATH": "/usr/bin:/bin"], input: Data(request.utf8), timeout: 120)
    }

    @Test func exportTuneAndFetchThroughMoto() async throws {
        // Starting it waits for its port: off the cooperative pool.
        let server = try await TestSupport.offPool { try PythonServer(script: Self.motoWithBestJobs) }
        try #require(server.port > 0, "the patched moto server did not start")
        let bucket = "sagemaker-\(UUID().uuidString.prefix(8).lowercased())"
        let store = "s3://\(bucket)/data"
        let role = "arn:aws:iam::123456789012:role/conviction-sagemaker"
        let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                           "CONVICTION_AWS_ENDPOINT": server.endpoint, "CONVICTION_AWS_CREATE_BUCKET": "true",
                           "CONVICTION_DATA_SOURCE": "simulator", "CONVICTION_SIMULATION_DELIVERY": "replay", "CONVICTION_SIMULATION_SESSIONS": "12",
                           "CONVICTION_TRAINING_FOLDS": "3", "CONVICTION_TRAINING_THREADS": "2", "CONVICTION_UNIVERSE_SYMBOLS": "AAPL,TSLA",
                           "CONVICTION_SCORING_SCORER": "lexicon", "CONVICTION_SAGEMAKER_ROLE_ARN": role,
                           "CONVICTION_DATA_CATALOG": TestSupport.temporaryDirectory("sagemaker").appendingPathComponent("c.sqlite").path]
        for stage in [["simulate"], ["ingest"], ["score"], ["features"], ["train"]] {
            let r = try await TestSupport.convictionOffPool(stage + ["--data-dir", store], environment: environment)
            try #require(r.status == 0, "\(stage): \(r.stderr.suffix(1500))")
        }

        // The dry run: both requests and the plan, nothing written; every strategy's requests pass botocore.
        for strategy in ["bayesian", "hyperband", "random"] {
            var env = environment
            env["CONVICTION_SAGEMAKER_STRATEGY"] = strategy
            let dry = try await TestSupport.convictionOffPool(["train", "--engine", "sagemaker", "--dry-run", "--data-dir", store], environment: env)
            #expect(dry.status == 0 && dry.stdout.contains("plan: export ") && dry.stdout.contains("a tuning pair ("), "\(dry.stdout.prefix(800))\(dry.stderr)")
            let requests = Self.requests(dry.stdout)
            #expect(requests.count == 2, "one tuning job per model: \(dry.stdout.prefix(1500))")
            for request in requests {
                let valid = try await validate(request)
                #expect(valid.status == 0 && valid.stderr.contains("valid: sagemaker CreateHyperParameterTuningJob"), "\(strategy): \(valid.stderr.suffix(1500))")
                #expect(request.contains("\"MetricName\" : \"validation:auc\"") && request.contains("\"EnableManagedSpotTraining\" : true") && request.contains(role))
                #expect(request.contains("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"))
                #expect(request.contains("\"TrainingJobEarlyStoppingType\" : \"\(strategy == "hyperband" ? "Off" : "Auto")\""), "\(strategy)")
            }
        }
        // The describe calls status and fetch make.
        for (operation, body) in [("DescribeHyperParameterTuningJob", SageMakerClient.describeTuningJobRequest("conv-1a2b3c4d-sent-2612051200")),
                                  ("DescribeTrainingJob", SageMakerClient.describeTrainingJobRequest("conv-1a2b3c4d-sent-2612051200-best"))] {
            let valid = try await validate(String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self), operation: operation)
            #expect(valid.status == 0, "\(operation): \(valid.stderr.suffix(500))")
        }
        let untouched = try await helper(["list", server.endpoint, bucket])
        #expect((untouched["sagemaker"] as? [String])?.isEmpty == true, "the dry runs wrote nothing: \(untouched)")

        // Export, and Python xgboost on the channels against local training.
        let exported = try await TestSupport.convictionOffPool(["sagemaker", "export", "--data-dir", store], environment: environment)
        #expect(exported.status == 0 && exported.stdout.contains("sagemaker: export sm-"), "\(exported.stdout)\(exported.stderr)")
        let parity = try await helper(["parity", server.endpoint, bucket])
        #expect(parity["rows"] as? Int == parity["python_rows"] as? Int && (parity["rows"] as? Int ?? 0) > 500, "\(parity)")
        #expect((parity["max_diff"] as? Double ?? 1) <= 1e-6, "Python on the CSV channels predicts as local training: \(parity)")
        #expect(parity["label_first"] as? Bool == true && parity["first_line_fields"] as? Int == (parity["sentiment_columns"] as? Int ?? 0) + 1, "\(parity)")
        let metadata = Set(parity["metadata"] as? [String] ?? [])
        #expect(metadata.contains("data/data/sagemaker/feature_metadata.json") && metadata.contains { $0.hasPrefix("data/data/sagemaker/sm-") }, "\(metadata)")

        // Submit, status, the stand-in models, fetch.
        let submitted = try await TestSupport.convictionOffPool(["sagemaker", "submit", "--data-dir", store], environment: environment)
        #expect(submitted.status == 0 && submitted.stdout.components(separatedBy: "sagemaker: submitted conv-").count == 3, "\(submitted.stdout)\(submitted.stderr)")
        let again = try await TestSupport.convictionOffPool(["sagemaker", "submit", "--data-dir", store], environment: environment)
        #expect(again.status == 0 && again.stdout.contains("was submitted at"), "a second submit does not start new jobs: \(again.stdout)")
        let status = try await TestSupport.convictionOffPool(["sagemaker", "status", "--wait", "--interval", "1", "--data-dir", store], environment: environment)
        #expect(status.status == 0 && status.stdout.components(separatedBy: ": Completed, 1 completed, 0 running, 0 failed").count == 3, "\(status.stdout)\(status.stderr)")
        let models = try await helper(["models", server.endpoint, bucket, role])
        let fetched = try await TestSupport.convictionOffPool(["sagemaker", "fetch", "--data-dir", store], environment: environment)
        #expect(fetched.status == 0, "\(fetched.stderr.suffix(2000))")
        let rows = fetched.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| method") }
        #expect(rows.count == 3 && rows[0].hasPrefix("| local search (run-") && rows[1].hasPrefix("| SageMaker-tuned, refit per fold"), "\(fetched.stdout)")
        let direct = try #require(rows.last?.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(abs((Double(direct[1]) ?? 0) - (models["baseline"] as? Double ?? -1)) < 1e-4 && abs((Double(direct[2]) ?? 0) - (models["sentiment"] as? Double ?? -1)) < 1e-4,
                "the C API scores the downloaded models as Python does: \(direct) vs \(models)")
        #expect(fetched.stdout.contains("tuned colsample_bytree="), "the refit used the tuned values: \(fetched.stdout)")
    }
}
