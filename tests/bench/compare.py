#!/usr/bin/env python3
"""tests/bench/compare.py — the change per figure between two benchmark runs.

    compare.py OLD.json NEW.json [--threshold PCT] [--all]
    compare.py --dir DIR [--threshold PCT] [--all]

Reads two results JSON files written by tests/bench/run (results-<stamp>.json,
latest.json) or by its cluster stage (cluster-<stamp>.json): flat objects of
"key": number or string. With --dir, the two newest results-*.json in DIR.

Prints one line per figure that both runs have: old value, new value and the
change in per cent, flagged "better" or "WORSE" when it is more than
--threshold per cent (default 10) in either direction. A figure is a key
that says which way is better: rates (*_per_s) and ratios up; latencies
(*_ms), join times (*join_s) and costs (*_per_mb, *_per_gb) down. Other
numbers (CPU seconds of one run, counts, sizes), figures of single runs
(.r<N>.), lists of runs and the machine description are left out unless
--all (and never flagged). Targets (target.*) that went from pass to
miss or back are listed at the end. Figures in only one of the files are
counted, not listed.

Exit status: 0, or 2 when a file cannot be read.
"""
import argparse
import glob
import json
import os
import re
import sys

# figures, by which way is better; other numbers (CPU seconds of a run, counts,
# sizes) depend on how long a run was and are shown only with --all, unflagged
HIGHER = re.compile(r"(_per_s|_per_s_after_join|\.ratio)$")
LOWER = re.compile(r"(_ms|_ms_median|_ms_max|_per_mb|_per_gb|join_s)$")
SKIP = re.compile(r"(^machine\.|^run\.|\.r\d+\.|\.runs$|_runs$|\.failed$|\.skipped$|"
                  r"^peers\.loadavg|\.version$)")


def direction(key):
    """+1 when a larger value is better, -1 when smaller is, 0 when not a figure."""
    if HIGHER.search(key):
        return 1
    if LOWER.search(key):
        return -1
    return 0


def load(path):
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("%s: not a JSON object" % path)
    return data


def newest_two(d):
    files = sorted(glob.glob(os.path.join(d, "results-*.json")))
    if len(files) < 2:
        raise ValueError("%s: fewer than two results-*.json" % d)
    return files[-2], files[-1]


def compare(old, new, threshold, show_all):
    """Returns (rows, target_changes, only_old, only_new); a row is
    (key, old, new, change_pct or None, flag)."""
    rows, targets = [], []
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if key.startswith("target."):
            if a != b:
                targets.append((key[len("target."):], a, b))
            continue
        if not show_all and (SKIP.search(key) or direction(key) == 0):
            continue
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
            continue
        change = None if a == 0 else 100.0 * (b - a) / abs(a)
        flag = ""
        d = direction(key)
        if change is not None and abs(change) > threshold and d != 0:
            flag = "better" if change * d > 0 else "WORSE"
        rows.append((key, a, b, change, flag))
    return rows, targets, len(set(old) - set(new)), len(set(new) - set(old))


def fmt(x):
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return "%d" % x
    return "%.6g" % x if isinstance(x, float) else str(x)


def main(argv):
    ap = argparse.ArgumentParser(description="change per figure between two bench runs")
    ap.add_argument("files", nargs="*", metavar="FILE", help="OLD.json NEW.json")
    ap.add_argument("--dir", help="compare the two newest results-*.json in DIR")
    ap.add_argument("--threshold", type=float, default=10.0,
                    help="flag changes beyond this many per cent (default 10)")
    ap.add_argument("--all", action="store_true", help="every numeric key, single runs too")
    args = ap.parse_args(argv)
    try:
        if args.dir and not args.files:
            old_path, new_path = newest_two(args.dir)
        elif len(args.files) == 2:
            old_path, new_path = args.files
        else:
            ap.error("give OLD.json NEW.json, or --dir DIR")
        old, new = load(old_path), load(new_path)
    except (OSError, ValueError) as e:
        print("compare: %s" % e, file=sys.stderr)
        return 2

    rows, targets, only_old, only_new = compare(old, new, args.threshold, args.all)
    print("old: %s (%s)" % (old_path, old.get("run.stamp", "?")))
    print("new: %s (%s)" % (new_path, new.get("run.stamp", "?")))
    for path, d in ((old_path, old), (new_path, new)):
        la = d.get("machine.loadavg_start")
        if la is not None:
            print("  load average at start of %s: %s" % (os.path.basename(path), fmt(la)))
    width = max([len(r[0]) for r in rows] + [6])
    print("%-*s %14s %14s %9s" % (width, "figure", "old", "new", "change"))
    flagged = 0
    for key, a, b, change, flag in rows:
        ch = "-" if change is None else "%+.1f%%" % change
        print(("%-*s %14s %14s %9s  %s" % (width, key, fmt(a), fmt(b), ch, flag)).rstrip())
        flagged += flag == "WORSE"
    if targets:
        print("targets changed:")
        for name, a, b in targets:
            print("  %-40s %s -> %s" % (name, a, b))
    print("%d figures compared, %d worse by more than %g%%; %d only in old, %d only in new"
          % (len(rows), flagged, args.threshold, only_old, only_new))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
