"""The dashboard benchmark's Python baseline: the tweet-volume widget's JSON for one symbol-day,
computed the same way (raw posts joined to their scores, 5-minute bars, the close of each bar's
last minute) with pyarrow + gzip + json, served by http.server's ThreadingHTTPServer with the same
1-second cache as `conviction dashboard`. Usage: dashboard_python.py DATA_DIR PORT"""
import glob, gzip, json, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
import pyarrow.parquet as pq

DATA, PORT = sys.argv[1], int(sys.argv[2])
SPAN = 300_000
cache, lock = {}, threading.Lock()


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def iso(millis):
    return datetime.fromtimestamp(millis / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (millis % 1000)


def volume(symbol, date):
    day = ms(date + "T00:00:00Z")
    labels = {}
    for path in glob.glob(f"{DATA}/scores/dt={date}/symbol={symbol}/*.parquet"):
        t = pq.read_table(path, columns=["post_id", "label"]).to_pydict()
        labels.update(zip(t["post_id"], t["label"]))
    bars = [{"start": iso(day + i * SPAN), "start_millis": day + i * SPAN, "negative": 0, "neutral": 0, "positive": 0, "unscored": 0}
            for i in range(86_400_000 // SPAN)]
    seen = set()
    for path in glob.glob(f"{DATA}/raw/posts/dt={date}/symbol={symbol}/*.jsonl.gz"):
        for line in gzip.open(path):
            post = json.loads(line)["payload"]["data"]
            if post["id"] in seen:
                continue
            seen.add(post["id"])
            i = (ms(post["created_at"]) - day) // SPAN
            if 0 <= i < len(bars):
                bars[i][labels.get(post["id"], "unscored")] += 1
    for path in glob.glob(f"{DATA}/market/bars_1m/dt={date}/symbol={symbol}/*.parquet"):
        t = pq.read_table(path, columns=["end", "close"]).to_pydict()
        for end, close in sorted(zip(t["end"], t["close"])):
            end_ms = int(end.timestamp() * 1000) if hasattr(end, "timestamp") else int(end) // 1000
            i = (end_ms - 1 - day) // SPAN
            if 0 <= i < len(bars):
                bars[i]["close"] = close
    for b in bars:
        b["total"] = b["negative"] + b["neutral"] + b["positive"] + b["unscored"]
    scored = sum(1 for p in seen if p in labels)
    return {"symbol": symbol, "date": date, "bar_minutes": 5, "posts": len(seen), "scored": scored, "bars": bars}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        key = (q.get("symbol", [""])[0], q.get("date", [""])[0])
        now = time.monotonic()
        with lock:
            hit = cache.get(key)
        if hit is None or now - hit[0] >= 1.0:
            body = json.dumps(volume(*key), sort_keys=True, separators=(",", ":")).encode()
            with lock:
                cache[key] = (now, body)
        else:
            body = hit[1]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 512
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
