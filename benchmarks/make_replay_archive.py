"""Writes a synthetic X API v2 filtered-stream archive for the replay-ingestion benchmark.

    make_replay_archive.py OUT.jsonl.gz N [--seed S] [--days D]

N JSON lines (gzip level 6, mtime 0; the same seed gives the same bytes), posts over D days (30) from
2026-10-01 with ids increasing with created_at, ~20k authors with Zipf-ish activity, varied texts
(finance vocabulary, emoji, accents, CJK) and the cashtags' entity offsets in code points. Mixed in,
roughly: 5% retweets, 3% lang es/ja/und and 0.5% without lang, 1% with more than 5 cashtags, 2% bot
spam, 1% exact duplicate lines, 1% same author + text re-posted within the hour, $V/$MA posts half
without any keyword, 0.1% malformed lines, 0.5% about unconfigured symbols only, 1% about 2-3
symbols, 0.1% bare post objects (no stream envelope).
"""
import argparse
import gzip
import random
import sys
import time
from collections import deque
from datetime import datetime, timezone

import orjson

CONFIGURED = ["AAPL", "AMZN", "GOOGL", "TSLA", "META", "MSFT", "NVDA", "JPM", "JNJ", "V", "MA"]
# Share of single-symbol posts; V and MA are the keyword-checked ones.
WEIGHTS = [16, 10, 8, 18, 9, 9, 14, 5, 3, 4, 4]
UNCONFIGURED = ["ZZZZ", "QQQX", "FOOB", "BRRR", "XYZQ", "PLTRX", "GME", "AMC", "BBBY", "SPCE", "HOOD", "COIN"]
RULE_IDS = {s: str(1790000000000000000 + 17 * (i + 1)) for i, s in enumerate(CONFIGURED)}
RULE_IDS.update({s: str(1790000000000009000 + i) for i, s in enumerate(UNCONFIGURED)})

START_MS = int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp() * 1000)
DAYS = 30
SNOWFLAKE_EPOCH = 1288834974657
N_AUTHORS = 20_000
N_BOTS = 150

# Every phrase here holds at least one of the replay's keywords (as a whole word).
FIN = [
    "earnings beat and guidance raised", "calls printing today", "breakout above {p}", "price target {p}",
    "bullish into earnings", "bearish on this chart", "buying the dip at {p}", "selling into strength",
    "EPS {x} vs {y} estimates", "revenue up {c}% y/y", "valuation looks stretched", "IV crush after earnings",
    "long since {p}", "short squeeze incoming?", "added more shares", "trimmed my position, took profits on shares",
    "options flow is wild", "puts are cheap here", "dividend hike announced", "analyst upgrade to overweight",
    "downgrade from the street", "market is pricing in a cut", "stock up {c}% premarket", "trading range {p}-{q}",
    "rally looks tired", "nasdaq dragging it down", "NYSE open was chaotic", "investors loving the buyback",
    "the chart says {p} next", "sell the news?", "I'd buy more under {p}", "stocks are ripping",
    "target raised to {q}", "guidance was soft, price fell {c}%", "eps growth {c}% is insane",
]
# No keyword anywhere (checked at import below).
NEUTRAL = [
    "what a day", "coffee first, then we talk", "anyone else watching this?", "love the new product lineup",
    "this company keeps surprising me", "paid with my card again", "checkout was smooth as always",
    "they announced something at the conference", "not sure how I feel about this one", "wild week",
    "the CEO interview was interesting", "my whole family uses them", "contactless everywhere now",
    "travel season is back", "big news tonight", "thoughts?", "numbers come out {d}",
    "been holding since {yr}", "fees keep going up lol", "their app got an update", "déjà vu all over again",
    "the café downstairs only takes cards now", "naïve question but why?", "new headquarters looks huge",
    "merci pour l'analyse", "über interesting quarter", "人气很高", "cross-border volume at {c}%",
]
EMOJI = ["🚀", "📈", "📉", "💎🙌", "🔥", "🤔", "😬", "🐻", "🐂", "💰", "✅", "⚠️", "👀", "🙏", "😂", "🌙", "🧠"]
OPENERS = ["", "", "", "Watching", "Heads up:", "Hot take:", "Morning thoughts on", "Quick note on", "Ok so",
           "Can't stop looking at", "Today:", "Reminder:", "Wow", "Honestly"]
SEPS = [" ", " ", " ", ". ", ", ", " - ", "! ", "\n", " | "]
WHEN = ["tomorrow", "next week", "after the close", "Thursday", "before the open"]
ES = ["las acciones de {t} suben {c}% hoy 🚀", "¿Alguien más comprando {t}? mañana será interesante",
      "análisis rápido de {t}: soporte en {p}", "{t} rompe resistencia, qué día", "próxima parada para {t}: {q} 📈",
      "el mercado está nervioso con {t}", "resultados de {t} después del cierre, atención"]
JA = ["{t} の株価が上昇 📈 決算発表は来週", "{t} 買い増しました。目標 {q}", "{t} 決算よかった！🚀",
      "日経平均と一緒に {t} も下落 📉", "{t} のチャートがきれい", "今日の {t} は強い"]
UND = ["{t} 🚀🚀🚀", "{t} {p} 📈📈", "{t} 💎🙌 {q}", "{t} 🔥🔥", "{t} 👀"]
BOT = ["Join our FREE Discord for daily picks", "link in bio 👆", "Sign up for our free newsletter today",
       "92% win rate this month", "Signals are LIVE now", "join our free discord, signals are live",
       "Our alerts hit a 87% WIN RATE 🔥 link in bio"]

KEYWORDS = {"stock", "stocks", "shares", "share", "earnings", "buy", "buying", "sell", "selling", "calls", "puts",
            "bullish", "bearish", "price", "market", "long", "short", "trading", "options", "dividend", "guidance",
            "estimates", "upgrade", "downgrade", "target", "chart", "rally", "dip", "breakout", "valuation",
            "revenue", "eps", "ipo", "ticker", "investors", "nyse", "nasdaq"}


def _words(s):
    b = s.encode().lower()
    return set(bytes(c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in b).split())


assert all(not {w.decode() for w in _words(p)} & KEYWORDS for p in NEUTRAL + OPENERS + EMOJI + WHEN), "NEUTRAL has a keyword"
assert all({w.decode() for w in _words(p)} & KEYWORDS for p in FIN), "a FIN phrase lacks a keyword"


class Gen:
    def __init__(self, seed, n):
        self.r = random.Random(seed)
        self.n = n
        r = self.r
        ids = set()
        self.authors = []
        while len(self.authors) < N_AUTHORS:
            aid = str(r.randrange(10 ** (r.randint(6, 18)), 10 ** 19))
            if aid in ids:
                continue
            ids.add(aid)
            i = len(self.authors)
            followers = int(r.lognormvariate(5.5, 1.8))
            user = {"id": aid, "username": f"u{i}_{r.randrange(1000)}",
                    "public_metrics": {"followers_count": followers, "following_count": r.randrange(0, 3000),
                                       "tweet_count": r.randrange(10, 200_000)}}
            self.authors.append(user)
        self.cum = []
        acc = 0.0
        for rank in range(N_AUTHORS):
            acc += 1.0 / (rank + 8) ** 1.05
            self.cum.append(acc)
        self.bots = list(range(N_AUTHORS - N_BOTS, N_AUTHORS))
        self.day_str = {}
        self.last_ms = -1
        self.seq = 0
        self.recent_ids = deque(maxlen=5000)

    def timeline(self):
        """N creation times in ms, sorted: diurnal (US session heavier) plus bursts of several per second."""
        r, n = self.r, self.n
        hours = DAYS * 24
        hw = []
        acc = 0.0
        for h in range(hours):
            hod, dow = h % 24, (h // 24 + 3) % 7  # 2026-10-01 is a Thursday
            w = 1.0 + (4.0 if 13 <= hod <= 20 else 1.5 if 11 <= hod <= 23 else 0.0)
            if dow >= 5:
                w *= 0.5
            acc += w
            hw.append(acc)
        n_burst = n // 5
        base = r.choices(range(hours), cum_weights=hw, k=n - n_burst)
        out = [START_MS + h * 3_600_000 + r.randrange(3_600_000) for h in base]
        centers = [START_MS + h * 3_600_000 + r.randrange(3_600_000 - 20_000)
                   for h in r.choices(range(hours), cum_weights=hw, k=max(1, n_burst // 60))]
        for _ in range(n_burst):
            out.append(centers[r.randrange(len(centers))] + r.randrange(20_000))
        out.sort()
        return out

    def new_id(self, ms):
        if ms == self.last_ms:
            self.seq += 1
        else:
            self.last_ms, self.seq = ms, 0
        return str(((ms - SNOWFLAKE_EPOCH) << 22) | (self.seq & 0x3FFFFF) | (37 << 12))

    def created(self, ms):
        day, rest = divmod(ms, 86_400_000)
        ds = self.day_str.get(day)
        if ds is None:
            ds = self.day_str[day] = datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")
        h, rest = divmod(rest, 3_600_000)
        m, rest = divmod(rest, 60_000)
        s, milli = divmod(rest, 1000)
        return f"{ds}T{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"

    def fill(self, tmpl):
        r = self.r
        if "{" not in tmpl:
            return tmpl
        p = r.randrange(5, 900)
        return tmpl.format(p=p, q=p + r.randrange(5, 120), x=f"{r.uniform(0.1, 9):.2f}", y=f"{r.uniform(0.1, 9):.2f}",
                           c=r.randrange(1, 40), d=r.choice(WHEN), yr=r.randrange(2012, 2026), t="{t}")

    def text(self, tags, keywords=True, lower_tags=False, prefix="", extra=()):
        """A text mentioning each tag as a cashtag; returns (text, entities). Offsets in code points."""
        r = self.r
        target = r.randint(40, 250)
        ents = []
        pos = len(prefix)
        text = prefix

        def add(piece):
            nonlocal text, pos
            if text and not text.endswith(" "):
                sep = SEPS[r.randrange(len(SEPS))]
                text += sep
                pos += len(sep)
            text += piece
            pos += len(piece)

        op = r.choice(OPENERS)
        if op:
            add(op)
        order = list(tags)
        for i, t in enumerate(order):
            shown = t.lower() if lower_tags else t
            if text and not text.endswith(" "):
                text += " "
                pos += 1
            ents.append({"start": pos, "end": pos + 1 + len(shown), "tag": shown})
            text += "$" + shown
            pos += 1 + len(shown)
            if i < len(order) - 1 and r.random() < 0.5:
                add(r.choice(("and", "vs", "&", "+", "/")))
        pool = FIN if keywords else NEUTRAL
        if keywords:
            add(self.fill(r.choice(FIN)))
        for piece in extra:
            add(piece)
        tries = 0
        while len(text) < target and tries < 8:
            tries += 1
            x = r.random()
            if x < 0.25:
                piece = r.choice(EMOJI)
            else:
                piece = self.fill(r.choice(pool if x < 0.8 else NEUTRAL))
            if len(text) + 3 + len(piece) > 280:  # 3: the longest separator
                break
            add(piece)
        while len(text) < 40:
            add(r.choice(EMOJI))
        if r.random() < 0.3:
            text = text[0].upper() + text[1:] if text[0].isalpha() else text
        return text, ents

    def message(self, ms, author, text, ents, rule_tags, lang="en", rt_of=None, bare=False, omit_lang=False):
        r = self.r
        data = {"id": self.new_id(ms), "text": text, "created_at": self.created(ms), "author_id": author["id"]}
        if not omit_lang:
            data["lang"] = lang
        likes = int(r.expovariate(0.3))
        data["public_metrics"] = {"retweet_count": int(r.expovariate(1.0)), "reply_count": int(r.expovariate(1.5)),
                                  "like_count": likes, "quote_count": int(r.expovariate(3.0))}
        if ents:
            data["entities"] = {"cashtags": ents}
        if rt_of:
            data["referenced_tweets"] = [{"type": "retweeted", "id": rt_of}]
        elif r.random() < 0.04 and self.recent_ids:
            data["referenced_tweets"] = [{"type": r.choice(("quoted", "replied_to")),
                                          "id": self.recent_ids[r.randrange(len(self.recent_ids))]}]
        self.recent_ids.append(data["id"])
        if bare:
            return data
        msg = {"data": data, "includes": {"users": [author]}}
        if rule_tags is not None and r.random() > 0.03:  # 3% without matching_rules: cashtags decide
            msg["matching_rules"] = [{"id": RULE_IDS[t], "tag": t} for t in rule_tags]
        return msg

    def author(self):
        return self.authors[self.r.choices(range(N_AUTHORS), cum_weights=self.cum)[0]]

    def symbol(self):
        return self.r.choices(CONFIGURED, weights=WEIGHTS)[0]

    def run(self, out_path):
        r = self.r
        times = self.timeline()
        recent_lines = deque(maxlen=3000)  # serialized well-formed lines, for exact duplicates
        recent_clean = deque(maxlen=400)   # (ms, author, text, ents, rule_tags) of plain accepted-looking posts
        dumps = orjson.dumps
        batch = []
        # Cumulative thresholds of each kind of line.
        kinds = [("malformed", 0.001), ("dup_line", 0.01), ("repost", 0.01), ("retweet", 0.05), ("es", 0.015),
                 ("ja", 0.01), ("und", 0.005), ("nolang", 0.005), ("spam", 0.01), ("bot", 0.02),
                 ("unconfigured", 0.005), ("multi", 0.01), ("bare", 0.001)]
        cum, acc = [], 0.0
        for k, p in kinds:
            acc += p
            cum.append((acc, k))
        with open(out_path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0) as gz:
            for i in range(self.n):
                ms = times[i]
                x = r.random()
                kind = "normal"
                for c, k in cum:
                    if x < c:
                        kind = k
                        break
                if kind == "dup_line" and recent_lines:
                    batch.append(recent_lines[r.randrange(len(recent_lines))])
                    continue
                if kind == "repost":
                    cand = [c for c in list(recent_clean)[-30:] if ms - c[0] <= 3_500_000]
                    if cand:
                        _, author, text, ents, rule_tags = cand[r.randrange(len(cand))]
                        line = dumps(self.message(ms, author, text, ents, rule_tags))
                        recent_lines.append(line)
                        batch.append(line)
                        continue
                    kind = "normal"
                author = self.author()
                lang, omit_lang, rt_of, bare = "en", False, None, False
                lower = r.random() < 0.02
                if kind == "retweet":
                    sym = self.symbol()
                    orig = self.authors[r.randrange(N_AUTHORS)]
                    text, ents = self.text([sym], prefix=f"RT @{orig['username']}: ", lower_tags=lower)
                    if len(text) > 280:
                        text = text[:279] + "…"
                        ents = [e for e in ents if e["end"] <= 279]
                    rt_of = self.recent_ids[r.randrange(len(self.recent_ids))] if self.recent_ids else \
                        str(((ms - 86_400_000 - SNOWFLAKE_EPOCH) << 22) | (37 << 12))
                    tags = [sym]
                elif kind in ("es", "ja", "und"):
                    sym = self.symbol()
                    tmpl = r.choice({"es": ES, "ja": JA, "und": UND}[kind])
                    body = self.fill(tmpl)
                    cut = body.index("{t}")
                    text = body.replace("{t}", "$" + sym)
                    while len(text) < 40:
                        text += " " + r.choice(EMOJI)
                    ents = [{"start": cut, "end": cut + 1 + len(sym), "tag": sym}]
                    lang, tags = kind, [sym]
                elif kind == "spam":
                    k = r.randint(6, 9)
                    tags = r.sample(CONFIGURED, r.randint(1, 4))
                    tags += r.sample(UNCONFIGURED, k - len(tags))
                    r.shuffle(tags)
                    text, ents = self.text(tags, lower_tags=lower)
                    tags = [t for t in tags if t in RULE_IDS and t in CONFIGURED]
                elif kind == "bot":
                    author = self.authors[self.bots[r.randrange(N_BOTS)]]
                    tags = [self.symbol()] + ([self.symbol()] if r.random() < 0.3 else [])
                    tags = list(dict.fromkeys(tags))
                    text, ents = self.text(tags, extra=[r.choice(BOT)])
                elif kind == "unconfigured":
                    tags = r.sample(UNCONFIGURED, r.randint(1, 2))
                    text, ents = self.text(tags, lower_tags=lower)
                elif kind == "multi":
                    tags = r.sample(CONFIGURED, r.randint(2, 3))
                    text, ents = self.text(tags, keywords=r.random() < 0.5, lower_tags=lower)
                else:
                    if kind == "nolang":
                        omit_lang = True
                    if kind == "bare":
                        bare = True
                    sym = self.symbol()
                    keywords = not (sym in ("V", "MA") and r.random() < 0.5)
                    text, ents = self.text([sym], keywords=keywords, lower_tags=lower)
                    tags = [sym]
                    if kind == "normal" and keywords:
                        recent_clean.append((ms, author, text, ents, tags))
                msg = self.message(ms, author, text, ents, tags, lang=lang, rt_of=rt_of, bare=bare, omit_lang=omit_lang)
                if kind == "malformed":
                    data = msg["data"] if "data" in msg else msg
                    v = r.randrange(4)
                    if v == 1:
                        del data["text"]
                    elif v == 2:
                        data["created_at"] = "yesterday"
                    elif v == 3:
                        data["id"] = "x12"
                    line = dumps(msg)
                    if v == 0:
                        line = line[:r.randrange(10, len(line) - 1)]
                    batch.append(line)
                    continue
                line = dumps(msg)
                recent_lines.append(line)
                batch.append(line)
                if len(batch) >= 20_000:
                    batch.append(b"")
                    gz.write(b"\n".join(batch))
                    batch = []
            if batch:
                batch.append(b"")
                gz.write(b"\n".join(batch))


def main():
    global DAYS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=DAYS, help="days the posts span (the 10x archive spans 10x the days, as years of real posts do)")
    a = ap.parse_args()
    DAYS = a.days
    t0 = time.perf_counter()
    Gen(a.seed, a.n).run(a.out)
    print(f"wrote {a.n} lines to {a.out} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
