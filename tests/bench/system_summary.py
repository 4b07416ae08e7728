#!/usr/bin/env python3
"""Prints the side-by-side summary of tests/bench/system.sh from the files in its output
directory, with ratios and targets. Usage: system_summary.py OUTDIR COUNT CHECK(0|1).
Exit status 1 when CHECK is 1 and a target was missed or a problem was recorded."""

import json
import os
import statistics
import sys

out, count, check = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
missed = []


def path(name):
    return os.path.join(out, name)


def hyperfine(name):
    try:
        with open(path(name)) as f:
            return {r["command"]: r for r in json.load(f)["results"]}
    except (OSError, ValueError, KeyError):
        return {}


def pooled(prefix):
    """Results of hyperfine runs PREFIX-r1.json, PREFIX-r2.json...: per command, the times of
    all rounds pooled (mean, stddev, median, min, max recomputed), and each round's results."""
    rounds = []
    i = 1
    while os.path.exists(path(f"{prefix}-r{i}.json")):
        rounds.append(hyperfine(f"{prefix}-r{i}.json"))
        i += 1
    merged = {}
    for res in rounds:
        for name, r in res.items():
            merged.setdefault(name, []).extend(r["times"])
    out = {}
    for name, times in merged.items():
        out[name] = {"mean": statistics.mean(times), "median": statistics.median(times),
                     "stddev": statistics.stdev(times) if len(times) > 1 else 0.0,
                     "min": min(times), "max": max(times), "times": times}
    return out, rounds


def target(label, ok):
    if not ok:
        missed.append(label)
    return "MET" if ok else "NOT MET"


def hf_table(res):
    print(f"  {'':<22} {'mean ± stddev (ms)':>19}  {'median':>7}  {'min':>7}  {'max':>7}  runs")
    for name, r in res.items():
        print(f"  {name:<22} {r['mean']*1e3:>9.2f} ± {r['stddev']*1e3:>6.2f}  "
              f"{r['median']*1e3:>7.2f}  {r['min']*1e3:>7.2f}  {r['max']*1e3:>7.2f}  {len(r['times'])}")


def ratio(res, a, b):
    """a / b on means and on medians."""
    return res[a]["mean"] / res[b]["mean"], res[a]["median"] / res[b]["median"]


with open(path("env.txt")) as f:
    print(f.read().rstrip())

# ------------------------------------------------------------------ cycle --
cycle, cycle_rounds = pooled("cycle")
parts = hyperfine("cycle-parts.json")
if cycle or os.path.exists(path("race.tsv")):
    print(f"\n== cycle: busybox `start -d` + `stop -k` (hyperfine through sh; {len(cycle_rounds)} "
          "round(s) of one run each with every command, pooled) ==")
    if cycle:
        hf_table(cycle)
        if len(cycle_rounds) > 1:
            per = []
            for res in cycle_rounds:
                if "lxc" in res and "corral" in res:
                    per.append(res["lxc"]["mean"] / res["corral"]["mean"])
            print("  lxc / corral in each round (means): " + ", ".join(f"{x:.2f}x" for x in per))
        print("  ratios on pooled means [medians]; LXC's is the slower one when > 1")
        if "corral" in cycle and "lxc" in cycle:
            m, md = ratio(cycle, "lxc", "corral")
            print(f"  lxc / corral (both network empty)   = {m:5.2f}x [{md:5.2f}x]  "
                  f"target >= 2.00x: {target('cycle: lxc/corral >= 2', m >= 2.0)}")
        if "corral" in cycle and "lxc-veth" in cycle:
            m, md = ratio(cycle, "lxc-veth", "corral")
            print(f"  lxc-veth / corral (veth vs empty)   = {m:5.2f}x [{md:5.2f}x]  (reference only)")
        if "lxc" in cycle and "lxc-veth" in cycle:
            m, md = ratio(cycle, "lxc-veth", "lxc")
            print(f"  lxc-veth / lxc (cost of a veth)     = {m:5.2f}x [{md:5.2f}x]")
        print("  both with a veth on a bridge: tests/bench/network.sh")
    else:
        print("  (no hyperfine results: see the problems below)")
    if parts:
        print("\n  the two halves apart (hyperfine -N, the other half as untimed --prepare):")
        hf_table(parts)
        if "corral start" in parts and "lxc-start -d" in parts:
            m, md = ratio(parts, "lxc-start -d", "corral start")
            print(f"  lxc-start -d / corral start = {m:5.2f}x [{md:5.2f}x]")
        if "corral stop -k" in parts and "lxc-stop -k" in parts:
            m, md = ratio(parts, "lxc-stop -k", "corral stop -k")
            print(f"  lxc-stop -k / corral stop -k = {m:5.2f}x [{md:5.2f}x]")
    if os.path.exists(path("race.tsv")):
        print("\n  back to back (a start right after the previous stop -k returned):")
        with open(path("race.tsv")) as f:
            for line in f:
                tool, k, failed, first = (line.rstrip("\n").split("\t") + [""])[:4]
                print(f"  {tool:<8} {failed:>3} of {k} starts failed" + (f"  first: {first}" if first else ""))

# ----------------------------------------------------------------- debian --
rows = []
if os.path.exists(path("debian.tsv")):
    with open(path("debian.tsv")) as f:
        for line in f:
            t, rep, start, run, stop, state, clean = line.rstrip("\n").split("\t")
            rows.append((t, float(start), float(run), float(stop), state, clean))
if rows:
    print("\n== debian: boot to `running` and clean stop (seconds; mean, min–max) ==")
    tools = [t for t in ("corral", "lxc", "lxc-stock") if any(r[0] == t for r in rows)]
    agg = {}
    print(f"  {'':<10} {'start returns':>22}  {'systemd running':>22}  {'clean stop':>22}  reps  orderly")
    for t in tools:
        rs = [r for r in rows if r[0] == t]
        cols = []
        for i in (1, 2, 3):
            xs = [r[i] for r in rs]
            agg[(t, i)] = statistics.mean(xs)
            cols.append(f"{statistics.mean(xs):6.3f} ({min(xs):5.3f}–{max(xs):5.3f})")
        states = {r[4] for r in rs}
        clean = sum(r[5] == "yes" for r in rs)
        print(f"  {t:<10} {cols[0]:>22}  {cols[1]:>22}  {cols[2]:>22}  {len(rs):>4}  {clean}/{len(rs)}"
              + ("" if states == {"running"} else f"  states: {','.join(sorted(states))}"))
    print("  lxc: the same config as corral's (halt SIGRTMIN+3, proc:mixed sys:ro cgroup:rw);")
    print("  lxc-stock: LXC's own debian.common.conf (seccomp, device cgroup, cgroup:mixed, 4 ttys;")
    print("  no halt signal set: lxc-stop sends SIGRTMIN+3 when init blocks it, as systemd does)")
    if "corral" in tools and "lxc" in tools:
        r = agg[("lxc", 2)] / agg[("corral", 2)]
        print(f"  to running: lxc / corral = {r:5.2f}x")
        s = agg[("corral", 3)] / agg[("lxc", 3)]
        print(f"  stop: corral / lxc       = {s:5.2f}x  target <= 1.00x (no slower): "
              f"{target('debian: corral stop no slower than lxc', s <= 1.0)}")
    if "corral" in tools and "lxc-stock" in tools:
        print(f"  to running: lxc-stock / corral = {agg[('lxc-stock', 2)] / agg[('corral', 2)]:5.2f}x; "
              f"stop: corral / lxc-stock = {agg[('corral', 3)] / agg[('lxc-stock', 3)]:5.2f}x")

# ------------------------------------------------------------------ scale --
mem = {}
if os.path.exists(path("memory.tsv")):
    with open(path("memory.tsv")) as f:
        for line in f:
            tool, n, found, extra, rss, pss, priv, anon = line.split("\t")
            mem[(tool, int(n))] = dict(found=int(found), rss=int(rss), pss=int(pss),
                                       priv=int(priv), anon=int(anon))
if mem:
    print("\n== monitor memory, KiB per monitor (sum over monitors / count) ==")
    print(f"  {'containers':>10}  {'':<7} {'monitors':>8}  {'RSS':>7}  {'PSS':>7}  {'private':>7}  {'anon':>6}")
    counts = sorted({n for _, n in mem})
    for n in counts:
        for tool in ("corral", "lxc"):
            m = mem.get((tool, n))
            if not m:
                continue
            d = max(m["found"], 1)
            print(f"  {n:>10}  {tool:<7} {m['found']:>8}  {m['rss']/d:>7.0f}  {m['pss']/d:>7.0f}  "
                  f"{m['priv']/d:>7.0f}  {m['anon']/d:>6.0f}")
            if m["found"] != n:
                missed.append(f"memory: {tool} at {n}: {m['found']} monitors found")
    print("  corral / lxc per monitor (target < 0.50 for RSS and private):")
    for n in counts:
        c, l = mem.get(("corral", n)), mem.get(("lxc", n))
        if not (c and l and c["found"] and l["found"]):
            continue
        rr = (c["rss"] / c["found"]) / (l["rss"] / l["found"])
        pr = (c["priv"] / c["found"]) / (l["priv"] / l["found"])
        ps = (c["pss"] / c["found"]) / (l["pss"] / l["found"])
        print(f"  {n:>10}  RSS {rr:5.2f} {target(f'memory: RSS at {n}', rr < 0.5):<8} "
              f"private {pr:5.2f} {target(f'memory: private at {n}', pr < 0.5):<8} PSS {ps:5.2f}")

ls_both = hyperfine("ls-both.json")
ls_corral = hyperfine("ls-corral.json")
if ls_both or ls_corral:
    print("\n== ls -f (hyperfine -N) ==")
    hf_table({**ls_both, **ls_corral})
    if len(ls_both) == 2:
        (a, ra), (b, rb) = ls_both.items()
        print(f"  {b} / {a} = {rb['mean'] / ra['mean']:5.2f}x")
    for name, r in ls_corral.items():
        if not name.startswith("corral ls -f"):
            continue
        print(f"  {name}: mean {r['mean']*1e3:.1f} ms, target < 200 ms: "
              f"{target('ls -f under 200 ms', r['mean'] < 0.2)}")

if os.path.exists(path("scale.tsv")):
    print(f"\n== scale: {count} busybox containers under corral ==")
    with open(path("scale.tsv")) as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t", 1)
            print(f"  {k}: {v}")
            if k.startswith("corral containers running"):
                running = int(v.split()[0])
                print(f"  target: {count} running at once: {target('scale: all running', running == count)}")
if os.path.exists(path("leftovers.txt")):
    print("  after stopping them all:")
    with open(path("leftovers.txt")) as f:
        for line in f:
            print(f"    {line.rstrip()}")

problems = []
if os.path.exists(path("problems.txt")):
    with open(path("problems.txt")) as f:
        problems = [p.rstrip() for p in f if p.strip()]
print("\n== problems seen ==" if problems else "\nno problems seen")
for p in problems:
    print(f"  - {p}")
if missed:
    print("\ntargets not met: " + "; ".join(missed))
print(f"\nfiles: {out}")
sys.exit(1 if check and (missed or problems) else 0)
