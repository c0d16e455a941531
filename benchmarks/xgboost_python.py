"""Baseline for the XGBoost benchmark: Python xgboost on the matrix the Swift side wrote, with the
same parameters. Checks that Swift's predictions, and Swift's saved model loaded here, are identical."""
import json, sys, time
import numpy as np
import xgboost as xgb

d = sys.argv[1]
info = json.loads(sys.argv[2])
x = np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(info["rows"], info["columns"])
y = np.fromfile(f"{d}/y.f32", dtype=np.float32)
params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "nthread": 2, "seed": 0,
          "base_score": 0.5, "verbosity": 0}
start = time.perf_counter()
m = xgb.DMatrix(x, label=y, missing=np.nan)
booster = xgb.train(params, m, num_boost_round=200)
seconds = time.perf_counter() - start
python_predictions = booster.predict(m)
swift_predictions = np.fromfile(f"{d}/swift_predictions.f32", dtype=np.float32)
loaded = xgb.Booster(model_file=f"{d}/swift_model.json")
print(json.dumps({"train_seconds": seconds, "xgboost": xgb.__version__,
                  "identical_predictions": bool(np.array_equal(python_predictions, swift_predictions)),
                  "swift_model_identical_in_python": bool(np.array_equal(loaded.predict(m), swift_predictions)),
                  "max_abs_difference": float(np.abs(python_predictions - swift_predictions).max())}))
