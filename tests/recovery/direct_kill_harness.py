#!/usr/bin/env python3
"""Kills a job reading a direct input again and again and checks its input is exactly-once.

The source is Redis Streams (redis-server started on 127.0.0.1 on a free port) or Kafka
(librdkafka's mock cluster, hosted by the kafka_mock_cluster process, on 127.0.0.1); either is
stopped by its PID at the end. A producer adds records {key, seq} to two streams (Redis keys or
Kafka topics of 2 partitions), seq counting 1, 2, 3, ... per key, while the job (direct_job:
createDirectStream into an updateStateByKey that tracks the sequence numbers it saw per key) is
killed with SIGKILL at random moments (every other one after the run wrote a checkpoint) and
restarted from its checkpoint. After the producer ends the job catches up and is stopped with
SIGTERM. The checks, on the newest complete output:
- per key, every number 1..n was seen (no gap) and none twice (no duplicate);
- every visible output directory is complete and no key's count ever decreases;
- the SIGTERM stops the job gracefully with exit status 0.
Usage: direct_kill_harness.py JOB (--redis | --kafka-cluster KAFKA_MOCK_CLUSTER) [--kills N]
       [--seed S] [--batch-ms MS] [--master M]
"""
import argparse
import ast
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

KEYS = ["k%d" % i for i in range(4)]
STREAMS = ["events-a", "events-b"]


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A minimal RESP client: enough for PING and pipelined XADDs."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, commands):
        out = []
        for args in commands:
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                a = a.encode() if isinstance(a, str) else a
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return [self.reply() for _ in commands]

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("redis-server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise Failure("redis error: " + rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Failure("redis-server closed the connection")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        return rest


class RedisServer:
    def __init__(self, work):
        self.port = free_port()
        self.log = open(os.path.join(work, "redis.log"), "wb")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", work], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if Redis(self.port).send([["PING"]]) == [b"PONG"]:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Failure("redis-server did not start on port %d" % self.port)
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()


class KafkaCluster:
    """kafka_mock_cluster: prints its bootstrap servers, produces the lines written to it."""

    def __init__(self, work, binary):
        self.log = open(os.path.join(work, "kafka.log"), "wb")
        self.proc = subprocess.Popen([binary, "1"] + ["%s:2" % s for s in STREAMS],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.address = self.proc.stdout.readline().decode().strip()
        if not self.address:
            raise Failure("kafka_mock_cluster did not start")

    def send(self, burst):
        """Produces (key, seq) records; each key has its own topic and partition."""
        lines = []
        for key, seq in burst:
            k = KEYS.index(key)
            lines.append("%s %d %s %d\n" % (STREAMS[k % len(STREAMS)], k // len(STREAMS), key, seq))
        self.proc.stdin.write("".join(lines).encode())
        self.proc.stdin.flush()

    def flush(self):
        self.proc.stdin.write(b"flush\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().decode().strip()
        if answer != "flushed":
            raise Failure("kafka_mock_cluster: %s" % (answer or "no answer to flush"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class RedisSender:
    def __init__(self, port):
        self.redis = Redis(port)

    def send(self, burst):
        self.redis.send([["XADD", STREAMS[KEYS.index(key) % len(STREAMS)], "*", "key", key,
                          "seq", str(seq)] for key, seq in burst])

    def flush(self):
        pass  # every XADD was answered


class Producer(threading.Thread):
    """Adds bursts of records {key, seq} to the streams until stopped."""

    def __init__(self, sender, rng):
        super().__init__(daemon=True)
        self.sender = sender
        self.rng = rng
        self.produced = {k: 0 for k in KEYS}
        self.halt = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.halt.is_set():
                burst = []
                for _ in range(self.rng.randint(1, 40)):
                    key = self.rng.choice(KEYS)
                    self.produced[key] += 1
                    burst.append((key, self.produced[key]))
                self.sender.send(burst)
                self.halt.wait(self.rng.uniform(0.01, 0.08))
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.halt.set()
        self.join()
        if self.error:
            raise Failure("producer failed: %s" % self.error)
        self.sender.flush()
        return dict(self.produced)


class Job:
    def __init__(self, work, job, source, address, batch_ms, master):
        self.dir = work
        self.ckpt = os.path.join(work, "ckpt")
        self.out = os.path.join(work, "out")
        os.makedirs(self.out)
        self.argv = [job, source, address, self.ckpt, self.out, str(batch_ms), master] + STREAMS
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.started_at = time.time()
        self.stderr_path = os.path.join(self.dir, "stderr-%03d" % self.starts)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=err)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def check_running(self):
        code = self.proc.poll()
        if code is not None:
            raise Failure("job exited with %s on its own; stderr:\n%s" % (code, self.stderr()))

    def expect_exit(self, expected, timeout=60):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure("job still running %d s after it should have ended; stderr:\n%s" %
                          (timeout, self.stderr()))
        if code != expected:
            raise Failure("job exited with %s (expected %s); stderr:\n%s" %
                          (code, expected, self.stderr()))

    def wait_for_checkpoint(self):
        """Until this run has written a checkpoint: every kill comes after some progress."""
        def written_since_start():
            if not os.path.isdir(self.ckpt):
                return False
            for n in os.listdir(self.ckpt):
                try:
                    if (n.startswith("checkpoint-") and
                            os.stat(os.path.join(self.ckpt, n)).st_mtime >= self.started_at):
                        return True
                except FileNotFoundError:  # deleted as newer ones were written
                    pass
            return False
        deadline = time.monotonic() + 60
        while not written_since_start():
            self.check_running()
            if time.monotonic() > deadline:
                raise Failure("no checkpoint written within 60 s")
            time.sleep(0.05)

    def outputs(self):
        """{time: path} of every visible output directory."""
        return {int(n[len("seen-"):]): os.path.join(self.out, n)
                for n in os.listdir(self.out) if n.startswith("seen-")}

    def newest(self, fresh=False):
        """The newest complete output; with `fresh`, only one the current run wrote."""
        done = [t for t, p in self.outputs().items()
                if os.path.exists(os.path.join(p, "_SUCCESS")) and
                (not fresh or os.stat(p).st_mtime >= self.started_at)]
        return read_output(self.outputs()[max(done)]) if done else {}


def read_output(path):
    """{key: (contiguous, past_gap, duplicates)} of one saved batch."""
    seen = {}
    for name in os.listdir(path):
        if name.startswith("part-"):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for line in f:
                    key, value = ast.literal_eval(line.strip())
                    seen[key] = value
    return seen


def check(job, produced):
    final = job.newest()
    problems = []
    for key in KEYS:
        contiguous, past_gap, duplicates = final.get(key, (0, 0, 0))
        if contiguous != produced[key] or past_gap or duplicates:
            problems.append("%s: %d produced, %d seen without a gap, %d past a gap, %d duplicates"
                            % (key, produced[key], contiguous, past_gap, duplicates))
    previous = {}
    for t in sorted(job.outputs()):
        path = job.outputs()[t]
        if not os.path.exists(os.path.join(path, "_SUCCESS")):
            problems.append("incomplete output directory " + path)
            continue
        for key, (contiguous, _, _) in read_output(path).items():
            if contiguous < previous.get(key, 0):
                problems.append("%s went down from %d to %d at %d" %
                                (key, previous[key], contiguous, t))
            previous[key] = contiguous
    if problems:
        raise Failure("\n".join(problems))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--redis", action="store_true")
    source.add_argument("--kafka-cluster", help="the kafka_mock_cluster program")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--batch-ms", type=int, default=100)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    if args.redis and shutil.which("redis-server") is None:
        print("redis-server is not installed (scripts/install-deps.sh installs it)")
        return 1
    rng = random.Random(args.seed)
    name = "redis" if args.redis else "kafka"
    work = tempfile.mkdtemp(prefix="sluice-%s-kill-" % name)
    server = None
    job = None
    try:
        if args.redis:
            server = RedisServer(work)
            address, sender = "127.0.0.1:%d" % server.port, RedisSender(server.port)
        else:
            server = KafkaCluster(work, args.kafka_cluster)
            address, sender = server.address, server
        job = Job(work, args.job, name, address, args.batch_ms, args.master)
        producer = Producer(sender, rng)
        producer.start()
        job.start()
        for i in range(args.kills):
            # Every other kill comes once the run has checkpointed (so the job makes progress);
            # the others at any moment, restoring and the first batches included.
            if i % 2 == 0:
                job.wait_for_checkpoint()
            time.sleep(rng.uniform(0.0, 1.0))
            job.check_running()
            job.proc.send_signal(signal.SIGKILL)
            job.expect_exit(-signal.SIGKILL)
            job.start()
        produced = producer.stop()
        # Catch up: the newest output of the current run shows every produced number (the run
        # is then started, so SIGTERM stops it gracefully).
        deadline = time.monotonic() + 120
        while any(job.newest(fresh=True).get(k, (0,))[0] < produced[k] for k in KEYS):
            job.check_running()
            if time.monotonic() > deadline:
                raise Failure("the job did not catch up within 120 s: %s of %s" %
                              (job.newest(), produced))
            time.sleep(0.1)
        job.proc.send_signal(signal.SIGTERM)
        job.expect_exit(0)
        check(job, produced)
        print("%s kill harness: %d kills, %d records, no gap, no duplicate" %
              (name, args.kills, sum(produced.values())))
        shutil.rmtree(work, ignore_errors=True)
        return 0
    except Failure as e:
        print("FAILED: %s\n(files kept in %s)" % (e, work))
        return 1
    finally:
        if job and job.proc and job.proc.poll() is None:
            job.proc.kill()
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
