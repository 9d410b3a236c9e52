#!/usr/bin/env python3
"""Prints the median of three runs of each scenario written by scripts/bench.sh, as a Markdown table."""
import json, os, statistics, sys
from collections import defaultdict

def main(folder):
    runs = defaultdict(list)
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            runs[name.rsplit("-", 1)[0]].append(json.load(open(os.path.join(folder, name))))
    print("| scenario | op | ok/s | p50 ms | p99 ms | p99.9 ms | service CPU us/request | checks |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, reports in runs.items():
        ops = sorted({o["op"] for r in reports for o in r["ops"]})
        for op in ops:
            rows = [o for r in reports for o in r["ops"] if o["op"] == op]
            med = lambda k: statistics.median(o[k] for o in rows)
            cpu = defaultdict(list)
            for r in reports:
                for k, v in r["figures"].items():
                    if k.endswith("_cpu_us_per_request"):
                        cpu[k.replace("_cpu_us_per_request", "")].append(v)
            cpu_text = ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in cpu.items()) or "-"
            passed = sum(all(c["passed"] for c in r["checks"]) for r in reports)
            checked = sum(bool(r["checks"]) for r in reports)
            verdict = f"{passed}/{len(reports)} passed" if checked else "none (reference)"
            print(f"| {scenario} | {op} | {med('ok_rate_per_sec'):,.0f} | {med('p50_ms'):.3f} | {med('p99_ms'):.3f} | "
                  f"{med('p999_ms'):.3f} | {cpu_text} | {verdict} |")
        figures = defaultdict(list)
        for r in reports:
            for k, v in r["figures"].items():
                if isinstance(v, (int, float)) and not k.endswith("_cpu_us_per_request"):
                    figures[k].append(v)
        for k, v in figures.items():
            print(f"| {scenario} | {k} | median {statistics.median(v):,.1f} | | | | | |")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench")
