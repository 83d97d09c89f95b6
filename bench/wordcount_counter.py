#!/usr/bin/env python3
"""Word count with collections.Counter: the Python baseline of wordcount_bench.

A word is a maximal run of bytes > 0x20, with only A-Z lowercased. Prints one JSON line:
{"seconds": read+count time, "distinct": N, "total": M, "checksum": "<16 hex digits>"}
where checksum = sum(count * fnv1a64(word)) mod 2**64.
"""

import argparse
import collections
import json
import time

# Bytes 0x00-0x20 become b" " (so that split() splits exactly there), A-Z become a-z.
_TABLE = bytes(
    0x20 if b <= 0x20 else b + 0x20 if 0x41 <= b <= 0x5A else b for b in range(256)
)
_MASK64 = (1 << 64) - 1


def count_words(path):
    with open(path, "rb") as f:
        data = f.read()
    return collections.Counter(data.translate(_TABLE).split())


def fnv1a64(word):
    h = 0xCBF29CE484222325
    for b in word:
        h = ((h ^ b) * 0x100000001B3) & _MASK64
    return h


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--dump", metavar="FILE", help='write "word\\tcount" lines, sorted')
    args = parser.parse_args()

    start = time.perf_counter()
    counts = count_words(args.path)
    seconds = time.perf_counter() - start

    checksum = sum(n * fnv1a64(w) for w, n in counts.items()) & _MASK64
    print(json.dumps({"seconds": seconds, "distinct": len(counts), "total": sum(counts.values()),
                      "checksum": f"{checksum:016x}"}))
    if args.dump:
        with open(args.dump, "w", encoding="latin-1", newline="\n") as out:
            for word in sorted(counts):
                out.write(f"{word.decode('latin-1')}\t{counts[word]}\n")


if __name__ == "__main__":
    main()
