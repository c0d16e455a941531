#!/usr/bin/env python3
"""Runs a test command under a time limit, so a hang fails fast with a name instead of blocking.

    test-watchdog.py --limit SECONDS --label NAME [--counts FILE] -- COMMAND [ARG...]
    test-watchdog.py --summarize FILE

The command runs in a process group of its own; its output is passed through line by line while
the watchdog follows which suites and tests have started and not yet finished (Swift Testing's
and XCTest's progress lines). When the limit passes it prints those names, kills the whole group
(SIGTERM, then SIGKILL after a grace period) and exits 124. It appends the passed, failed and
skipped counts it saw to FILE; --summarize adds them up and prints the closing line
"Tests: N passed, N failed, N skipped". Standard library only: it must run before set-up.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

# Swift Testing: "◇ Test name() started.", "✔ Test name() passed after 0.1 seconds.",
# "✘ Test name() failed after ...", "➜ Test name() skipped: ...", "◇ Suite Name started."
# The parenthesised name may hold spaces and arguments, so match up to the verb.
# The closing "Test run with N tests ..." line and "recorded an issue" lines are not test results.
ST_TEST = re.compile(r"^\S+ Test (?!run with )(?P<name>.+?) (?P<verb>started|passed|failed|skipped)(?: after|\.$|:)")
ST_SUITE = re.compile(r"^\S+ Suite (?P<name>.+?) (?P<verb>started|passed|failed|skipped)(?: after|\.$|:)")
# XCTest: "Test Case 'Suite.test' started." / "passed (0.1 seconds)." / "failed" / "skipped"
XC_TEST = re.compile(r"^Test Case '(?P<name>[^']+)' (?P<verb>started|passed|failed|skipped)")


class Progress:
    def __init__(self):
        self.running_tests = []   # in start order
        self.running_suites = []
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.lock = threading.Lock()

    def see(self, line):
        line = line.strip()
        if " recorded an issue" in line:
            return
        for pattern, running, counted in ((ST_TEST, self.running_tests, True), (XC_TEST, self.running_tests, True),
                                          (ST_SUITE, self.running_suites, False)):
            m = pattern.match(line)
            if not m:
                continue
            name, verb = m.group("name"), m.group("verb")
            with self.lock:
                if verb == "started":
                    running.append(name)
                else:
                    if name in running:
                        running.remove(name)
                    if counted:
                        self.counts[verb] += 1
            return


def kill_group(pgid, grace):
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(args):
    progress = Progress()
    started = time.monotonic()
    # Test binaries buffer their output fully when it goes to a pipe; line buffering (inherited by
    # the xctest process swift test starts) lets the watchdog see each test start when it happens.
    command = (["stdbuf", "-oL", "-eL"] if shutil.which("stdbuf") else []) + args.command
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, bufsize=0)

    def pump():
        for raw in iter(child.stdout.readline, b""):
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            progress.see(raw.decode("utf-8", "replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    while child.poll() is None:
        if time.monotonic() - started > args.limit:
            timed_out = True
            break
        time.sleep(0.2)
    if timed_out:
        with progress.lock:
            tests, suites = list(progress.running_tests), list(progress.running_suites)
        print(f"\nwatchdog: {args.label} passed its limit of {args.limit:g} s; killing process group {child.pid}", flush=True)
        print(f"watchdog: suites still running: {', '.join(suites) or '(none seen)'}", flush=True)
        print(f"watchdog: tests still running: {', '.join(tests) or '(none seen)'}", flush=True)
        kill_group(child.pid, args.grace)
        child.wait()
        status = 124
    else:
        status = child.returncode
        # The command is done; anything it left behind in its group goes too.
        kill_group(child.pid, 0)
    reader.join(timeout=5)
    if args.counts:
        with open(args.counts, "a") as f:
            f.write(json.dumps({"label": args.label, "status": status, "timed_out": timed_out, **progress.counts}) + "\n")
    return status


def summarize(path):
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_steps = []
    try:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                for key in totals:
                    totals[key] += record[key]
                if record["status"] != 0:
                    failed_steps.append(f"{record['label']} (exit {record['status']}{', timed out' if record['timed_out'] else ''})")
    except FileNotFoundError:
        failed_steps.append(f"no test step ran ({path} missing)")
    if failed_steps:
        print("test steps that failed: " + "; ".join(failed_steps))
    print(f"Tests: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed_steps or totals["failed"] else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, help="seconds before the command is killed")
    parser.add_argument("--label", default="tests", help="what the command is, for the messages")
    parser.add_argument("--counts", help="append the counts seen to this file (JSON lines)")
    parser.add_argument("--grace", type=float, default=5, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--summarize", metavar="FILE", help="add up a counts file and print the closing line")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.summarize:
        return summarize(args.summarize)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command or args.limit is None:
        parser.error("give --limit and a command after --")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
