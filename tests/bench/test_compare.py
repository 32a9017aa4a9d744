#!/usr/bin/env python3
"""tests/bench/test_compare.py — tests of tests/bench/compare.py (`make bench-compare`).

Runs compare.py as `make bench-compare` does, on two small results files in
tests/bench/testdata/ in the format tests/bench/run writes, and checks its
report: the change per figure, which way each counts as better, what is left
out, the targets that changed, --dir picking the two newest results, and the
exit status for a file that is missing. Needs no broker and no peers.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "compare.py")
OLD = os.path.join(HERE, "testdata", "compare-old.json")
NEW = os.path.join(HERE, "testdata", "compare-new.json")


def run(*args):
    p = subprocess.run([sys.executable, COMPARE] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def row(out, key):
    """The report's line for KEY split into fields, or None."""
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == key:
            return f
    return None


class CompareTest(unittest.TestCase):
    def test_change_and_direction(self):
        rc, out, err = run(OLD, NEW)
        self.assertEqual(rc, 0, err)
        # a rate that fell 25 %: worse
        self.assertEqual(row(out, "produce.1k-p1.mb_per_s"), ["produce.1k-p1.mb_per_s", "400", "300",
                                                              "-25.0%", "WORSE"])
        # a latency that halved: better
        self.assertEqual(row(out, "produce.1k-p1.p99_ms")[3:], ["-50.0%", "better"])
        # a cost per MB that rose by half: worse
        self.assertEqual(row(out, "produce.1k-p1.broker_cpu_s_per_mb")[3:], ["+50.0%", "WORSE"])
        self.assertEqual(row(out, "rawproduce.100-p8.records_per_s")[3:], ["+25.0%", "better"])
        # within the threshold: no flag
        self.assertEqual(row(out, "limit.loopback.gb_per_s")[3:], ["-2.4%"])
        self.assertEqual(row(out, "consume.1k-p1.mb_per_s")[3:], ["+0.0%"])
        self.assertEqual(row(out, "peers.gregor.produce.1k.mb_per_s")[3:], ["+1.3%"])

    def test_left_out_and_counted(self):
        rc, out, _ = run(OLD, NEW)
        self.assertEqual(rc, 0)
        for key in ("peers.gregor.produce.1k.r1.mb_per_s", "peers.gregor.produce.1k.runs",
                    "produce.1k-p1.broker_cpu_s",
                    "machine.loadavg_start", "machine.cpu", "run.stamp", "only.old.mb_per_s",
                    "only.new.mb_per_s"):
            self.assertIsNone(row(out, key), key)
        self.assertIn("load average at start of compare-new.json: 1.2", out)
        m = re.search(r"(\d+) figures compared, (\d+) worse by more than 10%; "
                      r"(\d+) only in old, (\d+) only in new", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.groups(), ("8", "2", "1", "1"))
        # the targets that changed, and only those
        self.assertRegex(out, r"targets changed:\n  produce_1k +pass -> miss\n")
        self.assertNotIn("consume  ", out.split("targets changed:")[1])

    def test_all_and_threshold(self):
        rc, out, _ = run(OLD, NEW, "--all", "--threshold", "40")
        self.assertEqual(rc, 0)
        # single runs are shown with --all, and a 46 % drop is beyond 40 %
        self.assertEqual(row(out, "peers.gregor.produce.1k.r1.mb_per_s")[3:], ["-45.9%", "WORSE"])
        # a 25 % drop is within 40 %
        self.assertEqual(row(out, "produce.1k-p1.mb_per_s")[3:], ["-25.0%"])
        # CPU seconds of one run are shown, never flagged: not a figure
        self.assertEqual(row(out, "produce.1k-p1.broker_cpu_s")[3:], ["+80.0%"])

    def test_dir_takes_the_two_newest(self):
        d = tempfile.mkdtemp()
        try:
            shutil.copy(NEW, os.path.join(d, "results-20260101-000000.json"))
            shutil.copy(OLD, os.path.join(d, "results-20260102-000000.json"))
            shutil.copy(NEW, os.path.join(d, "results-20260103-000000.json"))
            rc, out, err = run("--dir", d)
            self.assertEqual(rc, 0, err)
            self.assertIn("old: %s" % os.path.join(d, "results-20260102-000000.json"), out)
            self.assertIn("new: %s" % os.path.join(d, "results-20260103-000000.json"), out)
            self.assertEqual(row(out, "produce.1k-p1.mb_per_s")[3:], ["-25.0%", "WORSE"])
        finally:
            shutil.rmtree(d)

    def test_bad_input(self):
        rc, _, err = run(OLD, os.path.join(HERE, "testdata", "absent.json"))
        self.assertEqual(rc, 2)
        self.assertIn("absent.json", err)
        d = tempfile.mkdtemp()
        try:
            bad = os.path.join(d, "bad.json")
            with open(bad, "w") as f:
                f.write("[1, 2]")
            self.assertEqual(run(OLD, bad)[0], 2)
            with open(bad, "w") as f:
                f.write("{not json")
            self.assertEqual(run(OLD, bad)[0], 2)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
