"""Combines the rounds of one scenario: reads the JSON lines bench/scenario.lua printed, one per
round, and prints one line of the same shape. Rates and percentiles are the median of the
rounds (p99_lo and p99_hi are the lowest and highest p99), the maximum is the highest, and
counts (requests, seconds, errors) are summed, so that per-request figures divide by all of
the requests the rounds made."""

import json
import statistics
import sys

rounds = [json.loads(line) for line in sys.stdin if line.strip()]
if not rounds:
    sys.exit("combine.py: no rounds on stdin")
p99s = [r["p99_ms"] for r in rounds]
print(json.dumps({
    "rounds": len(rounds),
    "requests": sum(r["requests"] for r in rounds),
    "seconds": sum(r["seconds"] for r in rounds),
    "rps": statistics.median(r["rps"] for r in rounds),
    "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
    "p99_ms": statistics.median(p99s),
    "p99_lo": min(p99s),
    "p99_hi": max(p99s),
    "max_ms": max(r["max_ms"] for r in rounds),
    "non_2xx": sum(r["non_2xx"] for r in rounds),
    "socket_errors": sum(r["socket_errors"] for r in rounds),
}))
