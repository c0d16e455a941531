"""Independent reference for Conviction's features (docs/training.md), in numpy.

Reads the inputs and Swift's output from a JSON file (argv[1]), recomputes every feature from the
definitions, and prints JSON {feature: [max abs difference, rows compared, rows non-null]}.
Sessions come from the 1-minute bars and the America/New_York zone database, not from Swift's calendar.
"""
import json, math, sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
import numpy as np

d = json.load(open(sys.argv[1]))
span = d["bar_minutes"] * 60_000
ny = ZoneInfo("America/New_York")
mb = d["minute_bars"]  # [start, end, open, high, low, close, volume]

# --- bars ---------------------------------------------------------------------------------------
by_date = {}
for m in mb:
    day = datetime.fromtimestamp(m[0] / 1000, timezone.utc).astimezone(ny).date()
    by_date.setdefault(day, []).append(m)
bars = []  # dicts
sessions = []
for s_index, day in enumerate(sorted(by_date)):
    ms = by_date[day]
    s_open, s_close = ms[0][0], ms[-1][1]
    sessions.append(dict(open=s_open, close=s_close, day=day, half=(s_close - s_open) < 390 * 60_000))
    cur = None
    for m in ms:
        slot = (m[0] - s_open) // span
        end = min(s_open + (slot + 1) * span, s_close)
        tp = (m[3] + m[4] + m[5]) / 3
        if cur is not None and cur["t"] == end:
            cur["h"] = max(cur["h"], m[3]); cur["l"] = min(cur["l"], m[4]); cur["c"] = m[5]
            cur["v"] += m[6]; cur["pv"] += tp * m[6]
        else:
            cur = dict(t=end, o=m[2], h=m[3], l=m[4], c=m[5], v=m[6], pv=tp * m[6], s=s_index, slot=slot)
            bars.append(cur)
n = len(bars)
C = np.array([b["c"] for b in bars]); O = np.array([b["o"] for b in bars]); H = np.array([b["h"] for b in bars])
L = np.array([b["l"] for b in bars]); V = np.array([b["v"] for b in bars]); PV = np.array([b["pv"] for b in bars])
T = np.array([b["t"] for b in bars], dtype=np.int64); S = np.array([b["s"] for b in bars]); SLOT = np.array([b["slot"] for b in bars])
first_of = {}; last_of = {}
for i, b in enumerate(bars):
    first_of.setdefault(b["s"], i); last_of[b["s"]] = i
R = np.full(n, np.nan); R[1:] = np.log(C[1:] / C[:-1])
NA = float("nan")
out = {}

def col(name, f):
    out[name] = [f(i) for i in range(n)]

def win(a, i, k):
    if i + 1 < k: return None
    w = a[i - k + 1:i + 1]
    return None if np.isnan(w).any() else w

for k in [1, 2, 3, 6, 12, 24, 48, 78]:
    col(f"ret_{k}", lambda i, k=k: math.log(C[i] / C[i - k]) if i >= k else NA)
col("ret_session", lambda i: math.log(C[i] / O[first_of[S[i]]]))
col("gap", lambda i: math.log(O[first_of[S[i]]] / C[last_of[S[i] - 1]]) if S[i] > 0 else NA)
col("ret_prev_session", lambda i: math.log(C[last_of[S[i] - 1]] / O[first_of[S[i] - 1]]) if S[i] > 0 else NA)
for k in [6, 12, 24, 78]:
    col(f"rv_{k}", lambda i, k=k: np.std(win(R, i, k), ddof=1) if win(R, i, k) is not None else NA)
hl2 = np.log(H / L) ** 2
col("park_12", lambda i: math.sqrt(hl2[i - 11:i + 1].mean() / (4 * math.log(2))) if i >= 11 else NA)
gk = 0.5 * hl2 - (2 * math.log(2) - 1) * np.log(C / O) ** 2
col("gk_12", lambda i: math.sqrt(max(0.0, gk[i - 11:i + 1].mean())) if i >= 11 else NA)
def sess(i): return range(first_of[S[i]], i + 1)
col("range_1", lambda i: (H[i] - L[i]) / C[i])
col("range_12", lambda i: (H[i - 11:i + 1].max() - L[i - 11:i + 1].min()) / C[i] if i >= 11 else NA)
col("range_session", lambda i: (max(H[j] for j in sess(i)) - min(L[j] for j in sess(i))) / C[i])
col("close_pos_1", lambda i: (C[i] - L[i]) / (H[i] - L[i]) if H[i] > L[i] else NA)
def cps(i):
    hi = max(H[j] for j in sess(i)); lo = min(L[j] for j in sess(i))
    return (C[i] - lo) / (hi - lo) if hi > lo else NA
col("close_pos_session", cps)
LV = np.log1p(V)
col("log_volume", lambda i: LV[i])
for k in [12, 78]:
    def vz(i, k=k):
        if i < k: return NA
        p = LV[i - k:i]; sd = np.std(p, ddof=1)
        return (LV[i] - p.mean()) / sd if sd > 0 else NA
    col(f"volume_z_{k}", vz)
def prior_slots(i):
    found = []
    for s in range(S[i] - 1, -1, -1):
        idx = [j for j in range(first_of[s], last_of[s] + 1) if SLOT[j] == SLOT[i]]
        if idx: found.append(idx[0])
        if len(found) == 5: return found
    return None
def cumv(j): return sum(V[k] for k in range(first_of[S[j]], j + 1))
col("rel_volume_tod", lambda i: V[i] / np.mean([V[j] for j in prior_slots(i)]) if prior_slots(i) else NA)
col("cum_volume_ratio", lambda i: cumv(i) / np.mean([cumv(j) for j in prior_slots(i)]) if prior_slots(i) else NA)
col("vwap_dist_session", lambda i: C[i] / (sum(PV[j] for j in sess(i)) / sum(V[j] for j in sess(i))) - 1)
col("vwap_dist_12", lambda i: C[i] / (PV[i - 11:i + 1].sum() / V[i - 11:i + 1].sum()) - 1 if i >= 11 else NA)
for k in [6, 12, 24, 78]:
    col(f"sma_dist_{k}", lambda i, k=k: C[i] / C[i - k + 1:i + 1].mean() - 1 if i >= k - 1 else NA)
def ema(x, k):
    a = 2 / (k + 1); e = np.empty(len(x))
    for i, v in enumerate(x): e[i] = v if i == 0 else a * v + (1 - a) * e[i - 1]
    return e
E12, E26 = ema(C, 12), ema(C, 26)
col("ema_dist_12", lambda i: C[i] / E12[i] - 1 if i >= 11 else NA)
col("ema_dist_26", lambda i: C[i] / E26[i] - 1 if i >= 25 else NA)
def wilder(x, k):
    res = [NA] * len(x)
    if len(x) < k: return res
    s = sum(x[:k]) / k; res[k - 1] = s
    for i in range(k, len(x)): s = (s * (k - 1) + x[i]) / k; res[i] = s
    return res
dC = np.diff(C)
for k in [6, 14]:
    g, l = wilder(np.maximum(dC, 0), k), wilder(np.maximum(-dC, 0), k)
    def rsi(i, g=g, l=l):
        if i < 1 or math.isnan(g[i - 1]): return NA
        return 100.0 if l[i - 1] == 0 else 100 - 100 / (1 + g[i - 1] / l[i - 1])
    col(f"rsi_{k}", rsi)
M = E12 - E26
SIG = ema(M[25:], 9)
col("macd", lambda i: M[i] / C[i] if i >= 25 else NA)
col("macd_signal", lambda i: SIG[i - 25] / C[i] if i >= 33 else NA)
col("macd_hist", lambda i: (M[i] - SIG[i - 25]) / C[i] if i >= 33 else NA)
def bb(i, width):
    if i < 19: return NA
    w = C[i - 19:i + 1]; m = w.mean(); sd = np.std(w)
    if width: return 4 * sd / m
    return (C[i] - (m - 2 * sd)) / (4 * sd) if sd > 0 else NA
col("bb_pctb_20", lambda i: bb(i, False)); col("bb_width_20", lambda i: bb(i, True))
TR = [max(H[i] - L[i], abs(H[i] - C[i - 1]), abs(L[i] - C[i - 1])) for i in range(1, n)]
ATR = wilder(TR, 14)
col("atr_14", lambda i: ATR[i - 1] / C[i] if i >= 1 and not math.isnan(ATR[i - 1]) else NA)
def stk(i):
    if i < 13: return NA
    hi, lo = H[i - 13:i + 1].max(), L[i - 13:i + 1].min()
    return 100 * (C[i] - lo) / (hi - lo) if hi > lo else NA
K = np.array([stk(i) for i in range(n)])
col("stoch_k_14", lambda i: K[i])
col("stoch_d_3", lambda i: K[i - 2:i + 1].mean() if i >= 2 and not np.isnan(K[i - 2:i + 1]).any() else NA)
TP = (H + L + C) / 3
def cci(i):
    if i < 19: return NA
    w = TP[i - 19:i + 1]; m = w.mean(); mad = np.abs(w - m).mean()
    return (TP[i] - m) / (0.015 * mad) if mad > 0 else NA
col("cci_20", cci)
def momz(i):
    w = win(R, i, 12)
    if i < 12 or w is None: return NA
    sd = np.std(w, ddof=1)
    return math.log(C[i] / C[i - 12]) / (sd * math.sqrt(12)) if sd > 0 else NA
col("mom_z_12", momz)
def ac(i):
    x, y = win(R, i, 24), win(R, i - 1, 24) if i >= 1 else None
    if x is None or y is None: return NA
    if np.std(x) == 0 or np.std(y) == 0: return NA
    return float(np.corrcoef(x, y)[0, 1])
col("autocorr_24", ac)
def mom(i, p):
    w = win(R, i, 24)
    if w is None: return NA
    sd = np.std(w)
    return float(np.mean(((w - w.mean()) / sd) ** p)) if sd > 0 else NA
col("skew_24", lambda i: mom(i, 3)); col("kurt_24", lambda i: mom(i, 4) - 3)
col("up_share_12", lambda i: float((win(R, i, 12) > 0).mean()) if win(R, i, 12) is not None else NA)
col("dd_session", lambda i: math.log(C[i] / max(C[j] for j in sess(i))))
col("ru_session", lambda i: math.log(C[i] / min(C[j] for j in sess(i))))
def mos(i): return (T[i] - sessions[S[i]]["open"]) / 60_000
def mtc(i): return (sessions[S[i]]["close"] - T[i]) / 60_000
col("minute_of_session", mos); col("minutes_to_close", mtc)
col("tod_sin", lambda i: math.sin(2 * math.pi * mos(i) / 390)); col("tod_cos", lambda i: math.cos(2 * math.pi * mos(i) / 390))
col("dow_sin", lambda i: math.sin(2 * math.pi * sessions[S[i]]["day"].weekday() / 5))
col("dow_cos", lambda i: math.cos(2 * math.pi * sessions[S[i]]["day"].weekday() / 5))
col("is_first_30m", lambda i: 1.0 if mos(i) <= 30 else 0.0); col("is_last_30m", lambda i: 1.0 if mtc(i) <= 30 else 0.0)
col("is_half_day", lambda i: 1.0 if sessions[S[i]]["half"] else 0.0)
news = d["news"]  # [published_at, sentiment, articles]
for suffix, w in [("", 86_400_000), ("_1h", 3_600_000)]:
    def nsel(i, w=w): return [e for e in news if T[i] - w <= e[0] < T[i]]
    col("news_sentiment" + suffix, lambda i, nsel=nsel: np.mean([e[1] for e in nsel(i)]) if nsel(i) else NA)
    col("news_volume" + suffix, lambda i, nsel=nsel: float(sum(e[2] for e in nsel(i))))
def msn(i):
    before = [e[0] for e in news if e[0] < T[i]]
    return (T[i] - max(before)) / 60_000 if before else NA
col("minutes_since_news", msn)

# --- sentiment ------------------------------------------------------------------------------------
posts = d["posts"]  # [time, polarity, followers, engagement, label]
means = {}
for name, w in [("5m", 300_000), ("10m", 600_000), ("60m", 3_600_000), ("daily", 86_400_000)]:
    def sel(i, lo, hi): return [p for p in posts if T[i] - lo <= p[0] < T[i] - hi]
    cur = [sel(i, w, 0) for i in range(n)]
    prev = [sel(i, 2 * w, w) for i in range(n)]
    mean = [np.mean([p[1] for p in ps]) if ps else NA for ps in cur]
    means[name] = mean
    out[f"sent_{name}"] = mean
    cnt = [float(len(ps)) for ps in cur]
    out[f"posts_{name}"] = cnt
    def z(i):
        if i < 78: return NA
        prior = np.array(cnt[i - 78:i]); sd = np.std(prior, ddof=1)
        return (cnt[i] - prior.mean()) / sd if sd > 0 else NA
    out[f"posts_z_{name}"] = [z(i) for i in range(n)]
    def weighted(ps, key):
        ws = [math.log1p(key(p)) for p in ps]
        return sum(wt * p[1] for wt, p in zip(ws, ps)) / sum(ws) if sum(ws) > 0 else NA
    out[f"sent_fw_{name}"] = [weighted(ps, lambda p: p[2]) for ps in cur]
    out[f"sent_ew_{name}"] = [weighted(ps, lambda p: p[3]) for ps in cur]
    out[f"bull_share_{name}"] = [sum(1 for p in ps if p[4] > 0) / len(ps) if ps else NA for ps in cur]
    def dis(ps):
        pos = sum(1 for p in ps if p[4] > 0); neg = sum(1 for p in ps if p[4] < 0)
        return 1 - abs(pos - neg) / (pos + neg) if pos + neg else NA
    out[f"disagreement_{name}"] = [dis(ps) for ps in cur]
    out[f"sent_mom_{name}"] = [mean[i] - np.mean([p[1] for p in prev[i]]) if prev[i] and not math.isnan(mean[i]) else NA for i in range(n)]
def rstd(vals, rows, minimum):
    res = []
    for i in range(n):
        present = [v for v in vals[max(0, i - rows + 1):i + 1] if not math.isnan(v)]
        res.append(np.std(present, ddof=1) if len(present) >= minimum else NA)
    return res
out["sent_vol_60m"] = rstd(means["5m"], 12, 3)
out["sent_vol_daily"] = rstd(means["60m"], 78, 10)
out["sent_div_5m_60m"] = [a - b for a, b in zip(means["5m"], means["60m"])]
out["sent_div_60m_daily"] = [a - b for a, b in zip(means["60m"], means["daily"])]
out["sent_vs_news"] = [a - b for a, b in zip(means["daily"], out["news_sentiment"])]

# --- compare ----------------------------------------------------------------------------------------
report = {}
swift = d["swift"]
assert [int(t) for t in d["timestamps"]] == [int(t) for t in T], "bar close times differ"
for name, values in swift.items():
    ref = out.get(name)
    if ref is None: report[name] = ["missing in reference", 0, 0]; continue
    worst, nonnull, mismatch = 0.0, 0, 0
    for a, b in zip(values, ref):
        b = float(b)
        if a is None or b != b:
            if (a is None) != (b != b): mismatch += 1
            continue
        nonnull += 1
        worst = max(worst, abs(a - b) / max(1.0, abs(b)))
    report[name] = [worst if mismatch == 0 else f"{mismatch} null mismatches", len(values), nonnull]
print(json.dumps(report))
