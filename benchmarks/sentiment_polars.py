"""Baseline for the sentiment-feature benchmark: the same aggregates with polars.

Trailing windows [t - w, t) at every decision time t come from cumulative sums looked up with
join_asof (strictly before the bound), polars' vectorised, multi-threaded way to do it. Prints
timings, peak memory and the same per-column checksums as the Swift side.
"""
import json, resource, sys, time
import polars as pl

d = sys.argv[1]
start = time.perf_counter()
posts = pl.read_parquet(f"{d}/posts.parquet")
times = pl.read_parquet(f"{d}/times.parquet")
load = time.perf_counter() - start

start = time.perf_counter()
cols = ["one", "polarity", "wf", "fwp", "we", "ewp", "pos", "neg"]
p = (posts.sort(["symbol", "time"])
     .with_columns(wf=(pl.col("followers") + 1).cast(pl.Float64).log(), we=(pl.col("engagement") + 1).cast(pl.Float64).log(), one=pl.lit(1.0))
     .with_columns(fwp=pl.col("wf") * pl.col("polarity"), ewp=pl.col("we") * pl.col("polarity"),
                   pos=(pl.col("label") > 0).cast(pl.Float64), neg=(pl.col("label") < 0).cast(pl.Float64))
     .with_columns([pl.col(c).cum_sum().over("symbol").alias("c_" + c) for c in cols])
     .select(["symbol", "time"] + ["c_" + c for c in cols])
     .sort("time"))
grid = posts.select("symbol").unique().join(times, how="cross").sort(["symbol", "t"]).with_row_index("row")

def cumulative_before(offset):
    left = grid.with_columns(k=pl.col("t") - offset).sort("k")
    j = left.join_asof(p, left_on="k", right_on="time", by="symbol", strategy="backward", allow_exact_matches=False)
    return j.sort("row").select([pl.col("c_" + c).fill_null(0.0).alias(c) for c in cols])

def ratio(num, den):
    return pl.when(den > 0).then(num / den).otherwise(None)

hi = cumulative_before(0)
features = {}
means = {}
for name, w in [("5m", 300_000), ("10m", 600_000), ("60m", 3_600_000), ("daily", 86_400_000)]:
    lo, lo2 = cumulative_before(w), cumulative_before(2 * w)
    frame = pl.DataFrame({"symbol": grid["symbol"], **{f"h_{c}": hi[c] for c in cols}, **{f"l_{c}": lo[c] for c in cols}, **{f"m_{c}": lo2[c] for c in cols}})
    n = pl.col("h_one") - pl.col("l_one")
    pos, neg = pl.col("h_pos") - pl.col("l_pos"), pl.col("h_neg") - pl.col("l_neg")
    sent = ratio(pl.col("h_polarity") - pl.col("l_polarity"), n)
    prev = ratio(pl.col("l_polarity") - pl.col("m_polarity"), pl.col("l_one") - pl.col("m_one"))
    out = frame.with_columns(n=n).with_columns(
        sent=sent, posts=n,
        posts_z=(pl.col("n") - pl.col("n").shift(1).rolling_mean(78).over("symbol")) / pl.col("n").shift(1).rolling_std(78).over("symbol"),
        fw=ratio(pl.col("h_fwp") - pl.col("l_fwp"), pl.col("h_wf") - pl.col("l_wf")),
        ew=ratio(pl.col("h_ewp") - pl.col("l_ewp"), pl.col("h_we") - pl.col("l_we")),
        bull=ratio(pos, n), dis=pl.when(pos + neg > 0).then(1 - (pos - neg).abs() / (pos + neg)).otherwise(None),
        mom=sent - prev)
    out = out.with_columns(posts_z=pl.when(pl.col("posts_z").is_infinite() | pl.col("posts_z").is_nan()).then(None).otherwise(pl.col("posts_z")))
    for key, label in [("sent", "sent"), ("posts", "posts"), ("posts_z", "posts_z"), ("fw", "sent_fw"), ("ew", "sent_ew"),
                       ("bull", "bull_share"), ("dis", "disagreement"), ("mom", "sent_mom")]:
        features[f"{label}_{name}"] = out[key]
    means[name] = out.select("symbol", "sent")
features["sent_vol_60m"] = means["5m"].select(pl.col("sent").rolling_std(12, min_samples=3).over("symbol"))["sent"]
features["sent_vol_daily"] = means["60m"].select(pl.col("sent").rolling_std(78, min_samples=10).over("symbol"))["sent"]
features["sent_div_5m_60m"] = means["5m"]["sent"] - means["60m"]["sent"]
features["sent_div_60m_daily"] = means["60m"]["sent"] - means["daily"]["sent"]
features["sent_vs_news"] = pl.Series([None] * len(grid), dtype=pl.Float64)
compute = time.perf_counter() - start

checksums = {k: [float(v.sum() or 0.0), float(v.null_count())] for k, v in features.items()}
print(json.dumps({"load_seconds": load, "compute_seconds": compute, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "posts": posts.height, "rows": grid.height, "features": len(features), "checksums": checksums}, sort_keys=True))
