#!/usr/bin/env python3
"""Kills a job with a reliable receiver again and again and checks the receiver write-ahead log.

The job (receiver_job) reads an append-only file of lines "<id> <word>" (id = line number) with
a custom receiver that stores blocks of up to 50 lines and, only once store() returned, moves
its read position forward in an ack file. It counts every id and totals every word with
updateStateByKey, saves both every batch, and resumes from its checkpoint when restarted. This
script appends lines over time while killing the job with SIGKILL, alternately at random moments
and, round robin, at named crash points (SLUICE_CRASH_AT with a random count). After the input
ends it lets the job catch up, stops it with SIGTERM and checks, from the newest complete output:
- no loss: every acknowledged id is counted;
- duplicates only where at-least-once allows them: an id is counted twice only if a kill came
  while its block was stored but not yet acknowledged, so the ids counted more than once are at
  most kills x block size, no id is counted more than 1 + kills times, and each extra count of an
  id is matched by a kill whose acknowledged position was within one block before it;
- the word totals equal the sums of the id counts (the two states agree);
- every visible output directory is complete and no word total ever decreases;
- the SIGTERM stops the job gracefully with exit status 0.
A control round with the write-ahead log off kills the job once and reports how many acknowledged
records were lost; losing some is expected there, so it does not fail the run.
Usage: receiver_kill_harness.py JOB [--kills N] [--seed S] [--batch-ms MS] [--master M]
"""
import argparse
import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CRASH_POINTS = ["block-logged", "allocation-logged", "batch-computed", "checkpoint-written",
                "checkpoint-renamed", "output-staged"]
BLOCK_LINES = 50  # receiver_job's block size
VOCABULARY = ["w%02d" % i for i in range(40)]


class Failure(Exception):
    pass


class Appender(threading.Thread):
    """Appends bursts of lines "<id> <word>" to the input file until stopped."""

    def __init__(self, path, rng):
        super().__init__(daemon=True)
        self.path = path
        self.rng = rng
        self.words = [None]  # words[id]; ids start at 1
        self.halt = threading.Event()

    def run(self):
        with open(self.path, "a", encoding="utf-8") as f:
            while not self.halt.is_set():
                burst = []
                for _ in range(self.rng.randint(1, 30)):
                    self.words.append(self.rng.choice(VOCABULARY))
                    burst.append("%d %s\n" % (len(self.words) - 1, self.words[-1]))
                f.write("".join(burst))
                f.flush()
                self.halt.wait(self.rng.uniform(0.02, 0.12))

    def stop(self):
        self.halt.set()
        self.join()
        return len(self.words) - 1


class Run:
    """One job's files: input, ack, checkpoint and outputs, and how to start the job on them."""

    def __init__(self, work, name, job, batch_ms, master, wal, runs):
        runs.append(self)  # killed at the end if a check failed while it ran
        self.dir = os.path.join(work, name)
        os.makedirs(os.path.join(self.dir, "out"))
        self.input = os.path.join(self.dir, "input.txt")
        self.ack = os.path.join(self.dir, "ack")
        self.ckpt = os.path.join(self.dir, "ckpt")
        self.out = os.path.join(self.dir, "out")
        self.argv = [job, self.input, self.ack, self.ckpt, self.out, str(batch_ms), master]
        if not wal:
            self.argv.append("--no-wal")
        self.proc = None
        self.starts = 0

    def start(self, crash_at=None):
        env = dict(os.environ)
        env.pop("SLUICE_CRASH_AT", None)
        if crash_at:
            env["SLUICE_CRASH_AT"] = crash_at
        self.starts += 1
        self.started_at = time.time()
        self.stderr_path = os.path.join(self.dir, "stderr-%03d" % self.starts)
        # stderr goes to a file: a pipe nobody reads could fill up and stall the job.
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, env=env, stdout=subprocess.DEVNULL,
                                         stderr=err)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def expect_exit(self, expected, timeout=60):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure("job still running %d s after it should have ended; stderr:\n%s" %
                          (timeout, self.stderr()))
        if code != expected:
            raise Failure("job exited with %s (expected %s); stderr:\n%s" %
                          (code, expected, self.stderr()))

    def check_running(self):
        code = self.proc.poll()
        if code is not None:
            raise Failure("job exited with %s on its own; stderr:\n%s" % (code, self.stderr()))

    def kill(self):
        self.check_running()
        self.proc.send_signal(signal.SIGKILL)
        self.expect_exit(-signal.SIGKILL)

    def wait_for_checkpoint(self):
        deadline = time.monotonic() + 60
        while not (os.path.isdir(self.ckpt) and
                   any(n.startswith("checkpoint-") for n in os.listdir(self.ckpt))):
            self.check_running()
            if time.monotonic() > deadline:
                raise Failure("no checkpoint written within 60 s")
            time.sleep(0.05)

    def acked(self):
        """The number of lines the receiver acknowledged (ids 1..acked)."""
        try:
            with open(self.ack, encoding="utf-8") as f:
                return int(f.read().split()[0])
        except FileNotFoundError:
            return 0

    def batches(self, prefix):
        """{time: path} of every visible output directory of `prefix`."""
        found = {}
        for name in os.listdir(self.out):
            if name.startswith(prefix + "-"):
                found[int(name[len(prefix) + 1:])] = os.path.join(self.out, name)
        return found

    def newest_ids(self, fresh=False):
        """The newest complete id counts; with `fresh`, only of the job started last (None if it
        has saved none)."""
        complete = [t for t, path in self.batches("ids").items()
                    if os.path.exists(os.path.join(path, "_SUCCESS")) and
                    (not fresh or os.stat(path).st_mtime >= self.started_at)]
        return read_output(self.batches("ids")[max(complete)], int) if complete else None


def stacks(pid):
    """The threads' stacks of a running process, by gdb where it is installed."""
    if shutil.which("gdb") is None:
        return "(gdb is not installed)"
    try:
        return subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                              capture_output=True, text=True, timeout=60).stdout
    except subprocess.TimeoutExpired:
        return "(gdb did not finish within 60 s)"


def read_output(path, key):
    """{key: count} of a saveAsTextFiles directory of pairs, printed as "(key, count)"."""
    counts = {}
    for name in os.listdir(path):
        if not name.startswith("part-"):
            continue
        with open(os.path.join(path, name), encoding="utf-8") as f:
            for line in f:
                k, n = line.strip()[1:-1].rsplit(", ", 1)
                counts[key(k)] = int(n)
    return counts


def ranges(ids):
    """Sorted ids as "a-b" runs."""
    runs = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join("%d-%d" % (a, b) if a != b else str(a) for a, b in runs)


def check_outputs(run, acked, words, kill_acks):
    """The checks of the docstring on the outputs of a finished run; returns the duplicates."""
    ids_dirs, totals_dirs = run.batches("ids"), run.batches("totals")
    for path in list(ids_dirs.values()) + list(totals_dirs.values()):
        if not os.path.exists(os.path.join(path, "_SUCCESS")):
            raise Failure("incomplete output directory " + path)

    common = sorted(set(ids_dirs) & set(totals_dirs))
    if not common:
        raise Failure("no batch saved both ids and totals")
    counts = read_output(ids_dirs[common[-1]], int)
    lost = [i for i in range(1, acked + 1) if i not in counts]
    if lost:
        raise Failure("%d acknowledged ids lost (of %d): %s" % (len(lost), acked, ranges(lost)))
    unknown = sorted(i for i in counts if not 1 <= i <= acked)
    if unknown:
        raise Failure("ids counted that were never acknowledged: %s" % unknown[:20])
    duplicated = {i: n for i, n in counts.items() if n > 1}
    kills = len(kill_acks)
    if len(duplicated) > kills * BLOCK_LINES:
        raise Failure("%d ids counted more than once, more than %d kills x %d lines" %
                      (len(duplicated), kills, BLOCK_LINES))
    for i, n in sorted(duplicated.items()):
        if n > 1 + kills:
            raise Failure("id %d counted %d times after %d kills" % (i, n, kills))
        # A kill at acknowledged position a can repeat only the block after it: ids a+1..a+50.
        windows = sum(1 for a in kill_acks if a < i <= a + BLOCK_LINES)
        if n - 1 > windows:
            raise Failure("id %d counted %d times, but only %d kills came within a block before it"
                          % (i, n, windows))

    # Both states are saved by the same batches: their totals must agree at every time. The id
    # output is large, so a sample of the batches is read, the newest always.
    for t in common[::-20]:
        ids = counts if t == common[-1] else read_output(ids_dirs[t], int)
        expected = {}
        for i, n in ids.items():
            expected[words[i]] = expected.get(words[i], 0) + n
        totals = read_output(totals_dirs[t], ast.literal_eval)
        if totals != expected:
            diff = {w: (totals.get(w), n) for w, n in expected.items() if totals.get(w) != n}
            raise Failure("at %d the word totals disagree with the id counts; (totals, sum of "
                          "ids): %s" % (t, diff))

    previous = {}
    for t in sorted(totals_dirs):
        totals = read_output(totals_dirs[t], ast.literal_eval)
        for word, n in previous.items():
            if totals.get(word, 0) < n:
                raise Failure("total of %s went from %d to %s at %d" % (word, n, totals.get(word), t))
        previous = totals
    return duplicated


def catch_up(run, written, counted, timeout):
    """Waits until every line is acknowledged and the job has saved a batch (so that it handles
    SIGTERM), and with `counted` until every line is counted; False if that never happens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.check_running()
        ids = run.newest_ids(fresh=True)
        if run.acked() == written and ids is not None and (not counted or len(ids) >= written):
            return True
        time.sleep(0.2)
    return False


def stop_gracefully(run):
    run.proc.send_signal(signal.SIGTERM)
    run.expect_exit(0)


def main_round(args, work, rng, runs):
    run = Run(work, "wal", args.job, args.batch_ms, args.master, True, runs)
    appender = Appender(run.input, random.Random(rng.random()))
    # Until its first checkpoint exists the job starts afresh each time and discards the log of
    # the run before (no checkpoint says which of its blocks were processed), as Spark does:
    # the input starts once the checkpoint is there.
    run.start()
    run.wait_for_checkpoint()
    appender.start()
    kill_acks = []  # the acknowledged position at each kill
    random_kills = point_kills = 0
    # Which kill came where, to trace a failure back to it (kept with the files on failure).
    kills_log = open(os.path.join(run.dir, "kills.log"), "w", encoding="utf-8")
    try:
        for k in range(args.kills):
            how = "random"
            if k % 2:
                how = "%s:%d" % (CRASH_POINTS[point_kills % len(CRASH_POINTS)], rng.randint(1, 6))
                run.start(how)
                # A crash point comes within a few batches; the limit is generous because a
                # sanitizer build on a loaded machine was once seen taking over 15 s to get there.
                try:
                    run.proc.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    raise Failure("crash point %s never reached; stderr:\n%s\nthreads:\n%s" %
                                  (how, run.stderr(), stacks(run.proc.pid)))
                run.expect_exit(-signal.SIGKILL)
                point_kills += 1
            else:
                if k:
                    run.start()
                time.sleep(rng.uniform(0.05, 0.8))
                run.kill()
                random_kills += 1
            kill_acks.append(run.acked())
            kills_log.write("kill %d (start %d) %s: acknowledged %d\n" %
                            (k + 1, run.starts, how, kill_acks[-1]))
    finally:
        kills_log.close()
        written = appender.stop()

    # The input ends; the job runs to the end undisturbed.
    run.start()
    caught_up = catch_up(run, written, True, 30)
    stop_gracefully(run)
    acked = run.acked()
    if not caught_up and acked != written:
        raise Failure("the receiver acknowledged %d of %d lines within 30 s" % (acked, written))
    duplicated = check_outputs(run, acked, appender.words, kill_acks)
    print("receiver kill harness: %d kills (%d at random moments, %d at crash points %s), %d lines "
          "acknowledged: none lost, %d ids counted more than once (%d extra counts, at most %d "
          "allowed), word totals agree with id counts, every output complete, totals never "
          "decreased, graceful stop exit 0" %
          (len(kill_acks), random_kills, point_kills, "/".join(CRASH_POINTS), acked,
           len(duplicated), sum(n - 1 for n in duplicated.values()), len(kill_acks) * BLOCK_LINES),
          flush=True)


def control_round(args, work, rng, runs):
    """Without the write-ahead log one kill can lose acknowledged records: counted, not failed."""
    run = Run(work, "no-wal", args.job, args.batch_ms, args.master, False, runs)
    appender = Appender(run.input, random.Random(rng.random()))
    run.start()
    run.wait_for_checkpoint()
    appender.start()
    try:
        time.sleep(rng.uniform(1.0, 2.0))
        # Right after an acknowledgement, while the block is still in memory only.
        acked = run.acked()
        while run.acked() == acked:
            run.check_running()
            time.sleep(0.001)
        run.kill()
    finally:
        written = appender.stop()
    run.start()
    if not catch_up(run, written, False, 30):
        raise Failure("without the write-ahead log the receiver acknowledged %d of %d lines "
                      "within 30 s" % (run.acked(), written))
    stop_gracefully(run)
    counts = run.newest_ids()
    lost = sum(1 for i in range(1, run.acked() + 1) if i not in counts)
    print("without WAL: %d acked records lost (of %d)" % (lost, run.acked()), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--batch-ms", type=int, default=100)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="sluice_receiver_kill_")
    started = time.monotonic()
    runs = []
    try:
        main_round(args, work, rng, runs)
        control_round(args, work, rng, runs)
    except Failure as e:
        print("FAIL: %s\n(files kept in %s)" % (e, work), flush=True)
        sys.exit(1)
    finally:
        for run in runs:
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    print("receiver kill harness: %.0f s" % (time.monotonic() - started), flush=True)


if __name__ == "__main__":
    main()
