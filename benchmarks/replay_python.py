"""Python baseline of the Swift replay ingestion (orjson + zlib): same rules, same counts.

    replay_python.py ARCHIVE OUTDIR [--threads N]

Reads an X API v2 JSON-lines archive (gzip when the name ends .gz), normalizes each line, drops
duplicate ids, non-"en" posts, retweets, cashtag spam, bot phrases, $V/$MA posts without a keyword
and same-author same-text re-posts within an hour, and writes the accepted posts as
`raw/posts/dt=<date>/symbol=<S>/part-<h>.jsonl.gz` and the rejected lines as
`raw/quarantine/ingest/part-<h>.jsonl.gz` under OUTDIR (h = first 16 hex of sha256(ARCHIVE)),
each gzip level 6, mtime 0, written atomically. Prints one JSON object with the wall time (from
just after interpreter start to the last rename), counts by reason, lines per partition and peak
RSS. --threads N (default 1): decompress on a thread of its own and compress and write the partitions
on N threads (zlib lets go of the GIL), overlapping the parsing.
"""
import time

_T0 = time.perf_counter()

import hashlib  # noqa: E402
import os  # noqa: E402
import queue  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import zlib  # noqa: E402

import orjson  # noqa: E402

CONFIGURED = frozenset(["AAPL", "AMZN", "GOOGL", "TSLA", "META", "MSFT", "NVDA", "JPM", "JNJ", "V", "MA"])
KEYWORD_SYMBOLS = frozenset(["V", "MA"])
KEYWORDS = frozenset(w.encode() for w in (
    "stock stocks shares share earnings buy buying sell selling calls puts bullish bearish price market long short "
    "trading options dividend guidance estimates upgrade downgrade target chart rally dip breakout valuation revenue "
    "eps ipo ticker investors nyse nasdaq").split())
BOT_PHRASES = (b"join our free discord", b"link in bio", b"free newsletter", b"% win rate", b"signals are live")
DUPLICATE_WINDOW_MS = 3_600_000
DAY_MS = 86_400_000
# Every byte that is not a-z or 0-9 becomes a space, so bytes.split() yields the words.
WORD_TABLE = bytes(c if (97 <= c <= 122 or 48 <= c <= 57) else 32 for c in range(256))
CHUNK = 1 << 20
BLOCK_LINES = 512  # lines gathered per partition before they are compressed


def days_from_civil(y, m, d):
    """Howard Hinnant's days_from_civil, as the Swift CivilDate (out-of-range days roll over)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


_day_cache = {}   # "YYYY-MM-DD" -> (days since epoch, the date is a real calendar date) or None
_date_text = {}   # days since epoch -> "YYYY-MM-DD"


_hour_cache = {}  # "YYYY-MM-DDTHH" (a real date) -> epoch ms of that hour, or None


def parse_time(s):
    """Epoch ms of an RFC 3339 time, as Swift's Timestamps.parseISO8601: `YYYY-MM-DD(T| )HH:MM:SS[.f+](Z|+HH:MM|-HH:MM)`;
    returns (ms, canonical) where canonical means s is already `YYYY-MM-DDTHH:MM:SS.mmmZ` for that instant, or None."""
    n = len(s)
    if n == 24 and s[23] == "Z" and s[19] == "." and s[16] == ":" and s[13] == ":" and s[10] == "T":
        # The usual X form: the hour from a cache, the rest as one 7-digit number mmssfff.
        base = _hour_cache.get(s[:13], False)
        if base is False:
            p = parse_time(s[:13] + ":00:00Z")
            base = _hour_cache[s[:13]] = p[0] if p is not None and _day_cache[s[:10]][1] else None
        if base is not None:
            rest = s[14:16] + s[17:19] + s[20:23]
            if rest.isdigit() and rest.isascii():
                v = int(rest)
                mi, sec = v // 100_000, v // 1000 % 100
                if mi < 60 and sec < 60:
                    return base + mi * 60_000 + sec * 1000 + v % 1000, True
    if n < 20 or not s.isascii() or s[4] != "-" or s[7] != "-" or s[13] != ":" or s[16] != ":":
        return None
    sep = s[10]
    if sep != "T" and sep != " ":
        return None
    prefix = s[:10]
    day = _day_cache.get(prefix, False)
    if day is False:
        day = None
        if prefix[:4].isdigit() and prefix[5:7].isdigit() and prefix[8:].isdigit():
            y, mo, d = int(prefix[:4]), int(prefix[5:7]), int(prefix[8:])
            if 1 <= mo <= 12 and 1 <= d <= 31:
                days = days_from_civil(y, mo, d)
                day = (days, civil_from_days(days) == (y, mo, d))
        _day_cache[prefix] = day
    if day is None:
        return None
    hh, mm, ss = s[11:13], s[14:16], s[17:19]
    if not (hh.isdigit() and mm.isdigit() and ss.isdigit()):
        return None
    h, mi, sec = int(hh), int(mm), int(ss)
    if h > 23 or mi > 59 or sec > 60:
        return None
    i = 19
    millis = 0
    if s[19] == ".":
        j = 20
        while j < n and "0" <= s[j] <= "9":
            j += 1
        if j == 20:
            return None
        millis = int(s[20:23] if j >= 23 else (s[20:j] + "00")[:3])
        i = j
    if i >= n:
        return None
    c = s[i]
    offset = 0
    if c == "Z":
        i += 1
    elif (c == "+" or c == "-") and i + 6 <= n and s[i + 3] == ":" and s[i + 1:i + 3].isdigit() and s[i + 4:i + 6].isdigit():
        offset = int(s[i + 1:i + 3]) * 60 + int(s[i + 4:i + 6])
        if c == "-":
            offset = -offset
        i += 6
    else:
        return None
    if i != n:
        return None
    ms = day[0] * DAY_MS + h * 3_600_000 + mi * 60_000 + sec * 1000 + millis - offset * 60_000
    canonical = n == 24 and sep == "T" and c == "Z" and sec < 60 and day[1] and s[19] == "."
    return ms, canonical


def date_text(days):
    t = _date_text.get(days)
    if t is None:
        y, m, d = civil_from_days(days)
        t = _date_text[days] = f"{y:04d}-{m:02d}-{d:02d}"
    return t


def iso_ms(ms):
    days, rest = divmod(ms, DAY_MS)
    h, rest = divmod(rest, 3_600_000)
    mi, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{date_text(days)}T{h:02d}:{mi:02d}:{s:02d}.{milli:03d}Z"


def read_chunks(path):
    """Decompressed bytes of the archive in chunks (every gzip member; a truncated stream yields what it holds)."""
    with open(path, "rb") as f:
        if not path.endswith(".gz"):
            while chunk := f.read(CHUNK * 8):
                yield chunk
            return
        d = zlib.decompressobj(31)
        while comp := f.read(CHUNK):
            while comp:
                out = d.decompress(comp)
                if out:
                    yield out
                if d.eof:
                    comp = d.unused_data
                    d = zlib.decompressobj(31)
                else:
                    comp = b""
        out = d.flush()
        if out:
            yield out


def prefetch(chunks, depth=4):
    """The same chunks, produced on a thread (decompression lets go of the GIL) a few ahead of the reader."""
    ahead = queue.Queue(depth)

    def run():
        try:
            for chunk in chunks:
                ahead.put(chunk)
            ahead.put(None)
        except BaseException as error:  # re-raised by the reader
            ahead.put(error)

    threading.Thread(target=run, daemon=True).start()
    while (chunk := ahead.get()) is not None:
        if isinstance(chunk, BaseException):
            raise chunk
        yield chunk


class Sink:
    """One output file as a gzip stream (level 6, mtime 0, zlib's header), compressed a block of lines at
    a time as they arrive, so the accepted posts never sit in memory uncompressed."""
    __slots__ = ("path", "comp", "pending", "count", "out", "worker")

    def __init__(self, path, worker):
        self.path = path
        self.comp = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.pending = []
        self.count = 0
        self.out = []
        self.worker = worker

    def take(self):
        """The pending lines as one block, each ending in a newline."""
        self.count += len(self.pending)
        self.pending.append(b"")
        block = b"\n".join(self.pending)
        self.pending = []
        return block

    def compress(self, block):
        self.out.append(self.comp.compress(block))

    def finish(self, block):
        self.out.append(self.comp.compress(block))
        self.out.append(self.comp.flush())
        write_atomic(self.path, b"".join(self.out))
        self.out = None


def _work(jobs, errors):
    """A compression thread: runs (function, block) jobs in order until None (zlib lets go of the GIL)."""
    while (job := jobs.get()) is not None:
        try:
            job[0](job[1])
        except BaseException as error:  # reported by the main thread
            errors.append(error)


def write_atomic(path, data):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def replay(archive, outdir, threads):
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError
    dumps = orjson.dumps
    sort_keys = orjson.OPT_SORT_KEYS
    configured = CONFIGURED
    keyword_symbols = KEYWORD_SYMBOLS
    keywords = KEYWORDS
    bots = BOT_PHRASES
    table = WORD_TABLE
    window = DUPLICATE_WINDOW_MS

    part = "part-" + hashlib.sha256(archive.encode()).hexdigest()[:16] + ".jsonl.gz"
    block_lines = BLOCK_LINES
    sinks = {}        # (days since epoch, symbol) -> Sink
    queues, workers, errors = [], [], []
    for _ in range(threads if threads > 1 else 0):
        queues.append(queue.SimpleQueue())
        workers.append(threading.Thread(target=_work, args=(queues[-1], errors), daemon=True))
        workers[-1].start()

    def submit(sink, final):
        job = sink.finish if final else sink.compress
        if queues:
            queues[sink.worker].put((job, sink.take()))
        else:
            job(sink.take())

    def new_sink(days, symbol):
        path = os.path.join(outdir, f"raw/posts/dt={date_text(days)}/symbol={symbol}", part)
        sink = sinks[(days, symbol)] = Sink(path, len(sinks) % max(threads, 1))
        return sink

    quarantine = Sink(os.path.join(outdir, "raw/quarantine/ingest", part), 0)
    rejected = {}
    seen_ids = set()
    last_text = {}    # (author_id, text) -> created_at ms of the last accepted post
    accepted = 0
    number = 0

    def reject(line, reason, detail):
        rejected[reason] = rejected.get(reason, 0) + 1
        pending = quarantine.pending
        pending.append(dumps({"detail": f"line {number}: {detail}", "line": number,
                              "raw": line.decode("utf-8", "replace"), "reason": reason,
                              "source": archive, "stage": "ingest"}, option=sort_keys))
        if len(pending) >= block_lines:
            submit(quarantine, False)

    carry = b""
    chunks = read_chunks(archive) if threads <= 1 else prefetch(read_chunks(archive))
    done = False
    while not done:
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            lines = [carry] if carry else []
        else:
            lines = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
            carry = lines.pop()
        for line in lines:
            number += 1
            if not line:
                continue
            # 1. normalize
            try:
                obj = loads(line)
            except JSONDecodeError:
                reject(line, "malformed", "not valid JSON")
                continue
            if type(obj) is not dict:
                reject(line, "malformed", "not a JSON object")
                continue
            data = obj.get("data")
            if type(data) is dict:
                msg = obj
            else:
                data, msg = obj, None
            pid = data.get("id")
            text = data.get("text")
            created = data.get("created_at")
            author = data.get("author_id")
            if type(pid) is not str or type(text) is not str or type(created) is not str or type(author) is not str:
                missing = [k for k, v in (("id", pid), ("text", text), ("created_at", created), ("author_id", author))
                           if type(v) is not str]
                reject(line, "malformed", f"field data.{missing[0]}: missing or not a string")
                continue
            if not (pid.isascii() and pid.isdigit()):
                reject(line, "bad_value", f"field data.id: expected a numeric string, got {pid!r}")
                continue
            parsed = parse_time(created)
            if parsed is None:
                reject(line, "bad_value", f"field data.created_at: not an RFC 3339 time: {created!r}")
                continue
            cashtags = []
            entities = data.get("entities")
            if type(entities) is dict:
                tags = entities.get("cashtags")
                if type(tags) is list:
                    for e in tags:
                        if type(e) is dict:
                            t = e.get("tag")
                            if type(t) is str:
                                t = t.upper()
                                if t not in cashtags:
                                    cashtags.append(t)
            symbols = []
            if msg is not None:
                rules = msg.get("matching_rules")
                if type(rules) is list:
                    for rule in rules:
                        if type(rule) is dict:
                            t = rule.get("tag")
                            if type(t) is str:
                                t = t.upper()
                                if t in configured and t not in symbols:
                                    symbols.append(t)
            for t in cashtags:
                if t in configured and t not in symbols:
                    symbols.append(t)
            if not symbols:
                reject(line, "no_symbol", "no configured symbol in matching_rules tags or entities.cashtags")
                continue
            # 2. duplicate_id
            if pid in seen_ids:
                reject(line, "duplicate_id", f"post {pid} already seen in this source")
                continue
            seen_ids.add(pid)
            # 3. language
            lang = data.get("lang", "und")
            if lang != "en":
                reject(line, "language", f"lang {lang!r} not allowed")
                continue
            # 4. retweet
            refs = data.get("referenced_tweets")
            if type(refs) is list and any(type(r) is dict and r.get("type") == "retweeted" for r in refs):
                reject(line, "retweet", "a retweet")
                continue
            # 5. cashtag_spam
            if len(cashtags) > 5:
                reject(line, "cashtag_spam", f"{len(cashtags)} cashtags")
                continue
            # 6. bot_pattern
            encoded = text.encode()
            lowered = encoded.lower()
            hit = None
            for phrase in bots:
                if phrase in lowered:
                    hit = phrase
                    break
            if hit is not None:
                reject(line, "bot_pattern", f"text contains {hit.decode()!r}")
                continue
            # 7. no_keyword
            if not keyword_symbols.isdisjoint(symbols):
                if keywords.isdisjoint(lowered.translate(table).split()):
                    symbols = [s for s in symbols if s not in keyword_symbols]
                    if not symbols:
                        reject(line, "no_keyword", "no keyword for a keyword-checked symbol")
                        continue
            # 8. duplicate_text
            ms, canonical = parsed
            key = (author, encoded)  # the UTF-8 bytes: as exact as the str, a third of the memory
            before = last_text.get(key)
            if before is not None and abs(ms - before) <= window:
                reject(line, "duplicate_text", f"same author and text {abs(ms - before)} ms after an accepted post")
                continue
            last_text[key] = ms
            accepted += 1
            received = created if canonical else iso_ms(ms)
            raw = b'{"received_at":"' + received.encode() + b'","payload":' + line + b"}"
            days = ms // DAY_MS
            for s in symbols:
                sink = sinks.get((days, s))
                if sink is None:
                    sink = new_sink(days, s)
                pending = sink.pending
                pending.append(raw)
                if len(pending) >= block_lines:
                    submit(sink, False)

    counts = {}
    for (days, symbol), sink in sorted(sinks.items(), key=lambda kv: (date_text(kv[0][0]), kv[0][1])):
        submit(sink, True)
        counts[f"raw/posts/dt={date_text(days)}/symbol={symbol}/"] = sink.count
    if quarantine.count or quarantine.pending:
        submit(quarantine, True)
    for q in queues:
        q.put(None)
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return number, accepted, dict(sorted(rejected.items())), counts


def main():
    args = sys.argv[1:]
    threads = 1
    if "--threads" in args:
        i = args.index("--threads")
        threads = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    archive, outdir = args
    lines, accepted, rejected, partitions = replay(archive, outdir, threads)
    seconds = time.perf_counter() - _T0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(orjson.dumps({"seconds": round(seconds, 3), "lines": lines, "accepted": accepted,
                                   "rejected": rejected, "partitions": partitions,
                                   "peak_rss_mb": round(peak, 1)}).decode() + "\n")


if __name__ == "__main__":
    main()
