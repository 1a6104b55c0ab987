"""Writes range files (the Pwned Passwords downloader's layout: PREFIX.txt, upper-case hex,
SUFFIX:COUNT lines, CRLF) holding the passwords bench/register_distinct.lua sends
(BenchTPwN for threads 1..THREADS and counters 1..COUNT) as padding lines (count 0, so
every registration goes through), each file filled to LINES lines as real ranges are.

    python3 bench/breach_ranges.py DIR [THREADS COUNT LINES]
"""
import hashlib
import os
import random
import sys

out = sys.argv[1]
threads, count, lines = (int(a) for a in (sys.argv[2:5] or ["2", "2000", "1000"]))
os.makedirs(out, exist_ok=True)
ranges = {}
for t in range(1, threads + 1):
    for n in range(1, count + 1):
        digest = hashlib.sha1(f"Bench{t}Pw{n}".encode()).hexdigest().upper()
        ranges.setdefault(digest[:5], set()).add((digest[5:], 0))
rng = random.Random(26)
for prefix, entries in ranges.items():
    while len(entries) < lines:
        entries.add(("%035X" % rng.getrandbits(140), rng.choice([0, 1, 2, 7, 150])))
    with open(os.path.join(out, prefix + ".txt"), "w", newline="") as f:
        for suffix, n in sorted(entries):
            f.write(f"{suffix}:{n}\r\n")
print(f"{len(ranges)} range files in {out}")
