"""Figures for the catalogue of student answers (tests/catalogue): per exercise, how many wrong answers the
checks catch, how many of those the message names, how many pass (must be 0), and how many right answers
are rejected (must be 0).

    python tools/catalogue.py [--show] [ch03 ch04 …]   (--show prints every answer whose message is not good)"""
import os
import sys
import warnings
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from catalogue import generic, load  # noqa: E402

from course_lib import check  # noqa: E402


def main(show=False, chapters=None):
    warnings.simplefilter("ignore")  # what the answers themselves warn about (k.T on a batch …)
    rows = defaultdict(lambda: defaultdict(int))
    for a in load(chapters):
        result = getattr(check, a.exercise)(a.fn, quiet=True)
        r = rows[a.exercise]
        crashed = "the check could not run" in result.message
        r["crashes"] += crashed
        if a.right:
            r["right"] += 1
            r["rejected"] += not result.passed
            bad = not result.passed
        else:
            r["wrong"] += 1
            r["caught"] += not result.passed
            named = result.status == "failed" and not generic(result.message) and a.phrase in result.message
            r["named"] += named
            r["passed"] += result.passed
            bad = not named
        if show and (bad or crashed):
            print(f"  {a.id}: {result}")
    cols = ["wrong", "caught", "named", "passed", "right", "rejected", "crashes"]
    print(f"{'exercise':22}" + "".join(f"{c:>9}" for c in cols))
    total = defaultdict(int)
    for name, r in rows.items():
        print(f"{name:22}" + "".join(f"{r[c]:>9}" for c in cols))
        for c in cols:
            total[c] += r[c]
    print(f"{'all ' + str(len(rows)) + ' exercises':22}" + "".join(f"{total[c]:>9}" for c in cols))
    if total["wrong"]:
        print(f"caught {total['caught'] / total['wrong']:.0%}, named {total['named'] / total['wrong']:.0%}")


if __name__ == "__main__":
    main(show="--show" in sys.argv, chapters=[a for a in sys.argv[1:] if a.startswith("ch")] or None)
