#!/usr/bin/env python3
"""Kills a real streaming job again and again and checks that it recovers exactly.

The job (recovery_job) counts the words of the files moved into a watched directory, with
updateStateByKey, mapWithState and an incremental window, saving all three every batch, and
resumes from its checkpoint when restarted. This script writes input files while killing the
job with SIGKILL at random moments, and by SLUICE_CRASH_AT at named crash points (after a
batch's outputs, with a checkpoint written but not renamed, just renamed, an output staged but
not in place). After the input ends it lets the job finish and checks:
- the final totals of both running counts equal the words written, exactly;
- every visible output directory is complete (_SUCCESS), and no total ever decreases from one
  batch to the next;
- the window drains to empty;
- a SIGTERM stops the job gracefully with exit status 0.
Usage: kill_harness.py JOB [--kills N] [--seed S] [--batch-ms MS] [--master M]
"""
import argparse
import ast
import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CRASH_POINTS = ["batch-computed", "checkpoint-written", "checkpoint-renamed", "output-staged"]


def read_output(path):
    counts = {}
    for name in sorted(os.listdir(path)):
        if not name.startswith("part-"):
            continue
        with open(os.path.join(path, name), encoding="utf-8") as f:
            for line in f:
                word, n = ast.literal_eval(line)
                counts[word] = n
    return counts


def batches(out_dir, prefix):
    """(time, path) of every output directory of `prefix`, oldest first."""
    found = []
    for name in os.listdir(out_dir):
        if name.startswith(prefix + "-"):
            found.append((int(name[len(prefix) + 1:]), os.path.join(out_dir, name)))
    return sorted(found)


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--batch-ms", type=int, default=100)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--state-backend", default="memory")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="sluice_kill_")
    input_dir, staging, ckpt, out = (os.path.join(work, d)
                                     for d in ("input", "staging", "ckpt", "out"))
    for d in (input_dir, staging, out):
        os.makedirs(d)
    vocabulary = ["w%02d" % i for i in range(40)]
    truth = collections.Counter()
    files = 0
    job = None

    def start(crash_at=None):
        env = dict(os.environ)
        env.pop("SLUICE_CRASH_AT", None)
        if crash_at:
            env["SLUICE_CRASH_AT"] = crash_at
        return subprocess.Popen(
            [args.job, input_dir, ckpt, out, str(args.batch_ms), args.master,
             args.state_backend],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def write_file():
        nonlocal files
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 30))]
        lines = [" ".join(words[i:i + 5]) for i in range(0, len(words), 5)]
        staged = os.path.join(staging, "f%05d" % files)
        with open(staged, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(staged, os.path.join(input_dir, "f%05d" % files))  # appears whole
        truth.update(words)
        files += 1

    def check_exit(proc, expect_killed):
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode(errors="replace")
        if expect_killed and code == -signal.SIGKILL:
            return
        fail("job exited with %s (expected SIGKILL); stderr:\n%s" % (code, err))

    kills = random_kills = point_kills = 0
    started = time.monotonic()
    try:
        # Until its first checkpoint exists the job is a new one at every start, taking only
        # files newer than itself (Spark's newFilesOnly): start writing once it exists.
        job = start()
        while not (os.path.isdir(ckpt) and
                   any(n.startswith("checkpoint-") for n in os.listdir(ckpt))):
            if job.poll() is not None:
                check_exit(job, False)
            if time.monotonic() - started > 60:
                fail("no checkpoint written within 60 s")
            time.sleep(0.05)
        job.send_signal(signal.SIGKILL)
        check_exit(job, True)
        random_kills += 1
        kills += 1
        while kills < args.kills:
            if rng.random() < 0.3:
                point = rng.choice(CRASH_POINTS)
                job = start("%s:%d" % (point, rng.randint(1, 6)))
                for _ in range(rng.randint(0, 2)):
                    write_file()
                try:
                    job.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    job.kill()
                check_exit(job, True)
                point_kills += 1
            else:
                job = start()
                deadline = time.monotonic() + rng.uniform(0.05, 0.6)
                while time.monotonic() < deadline:
                    if rng.random() < 0.5:
                        write_file()
                    time.sleep(rng.uniform(0.0, 0.08))
                if job.poll() is not None:
                    check_exit(job, False)
                job.send_signal(signal.SIGKILL)
                check_exit(job, True)
                random_kills += 1
            kills += 1

        # The input ends; the job runs to the end undisturbed.
        job = start()
        deadline = time.monotonic() + 120
        expected = dict(truth)
        while True:
            if job.poll() is not None:
                check_exit(job, False)
            totals = batches(out, "totals")
            windows = batches(out, "window")
            done = (totals and read_output(totals[-1][1]) == expected and windows and
                    not read_output(windows[-1][1]) and
                    read_output(batches(out, "mstate")[-1][1]) == expected)
            if done:
                break
            if time.monotonic() > deadline:
                last = read_output(totals[-1][1]) if totals else {}
                diff = {w: (last.get(w), n) for w, n in expected.items() if last.get(w) != n}
                fail("totals never reached the truth; (got, expected): %s" % diff)
            time.sleep(0.2)
        job.send_signal(signal.SIGTERM)
        code = job.wait(timeout=60)
        if code != 0:
            fail("graceful stop exited with %s: %s" % (code, job.stderr.read().decode()))

        for prefix in ("totals", "mstate", "window"):
            for t, path in batches(out, prefix):
                if not os.path.exists(os.path.join(path, "_SUCCESS")):
                    fail("incomplete output directory " + path)
        for prefix in ("totals", "mstate"):
            previous = {}
            for t, path in batches(out, prefix):
                counts = read_output(path)
                for word, n in previous.items():
                    if counts.get(word, 0) < n:
                        fail("%s of %s went from %d to %s at %d" %
                             (prefix, word, n, counts.get(word), t))
                previous = counts
        print("kill harness: %d kills (%d at random moments, %d at crash points), %d files, "
              "%d words: final totals exact, every output complete, totals never decreased, "
              "window drained, graceful stop exit 0 (%.0f s)" %
              (kills, random_kills, point_kills, files, sum(truth.values()),
               time.monotonic() - started), flush=True)
    finally:
        if job is not None and job.poll() is None:
            job.kill()
            job.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
