"""Compare two evaluations of the same cases, paired per case: the difference of a figure and its 95 % interval.

    python tools/compare_per_case.py --a A/per_case.csv --b B/per_case.csv --figure pooled_dice [--out cmp.json]

A and B are ``per_case.csv`` files of the evaluate command (e.g. two recipes' out-of-fold evaluations, or one
with and one without a post-processing step). Cases are matched by name; both files must hold the same cases.
``--figure``: a column's mean (``dsc``, ``dice``, ``liver_dice``), ``median:<column>``, or ``pooled_dice`` (DRIVE's
F1 over all FOV pixels, from the tp/fp/fn columns). Prints, and with ``--out`` writes, ``a``, ``b``, ``b - a``
with its paired bootstrap interval over cases, and how many cases B scores higher / lower / the same.
"""

import csv
import json
import sys

import fire

from bundle_common.io import atomic_write_json
from bundle_common.metrics.bootstrap import paired_difference, per_case_summariser


def _rows(path: str) -> dict[str, dict]:
    with open(path, newline="") as f:
        return {row["case"]: row for row in csv.DictReader(f)}


def main(a: str, b: str, figure: str = "dice", out: str | None = None, resamples: int = 2000) -> dict:
    rows_a, rows_b = _rows(a), _rows(b)
    if set(rows_a) != set(rows_b):
        only = sorted(set(rows_a) ^ set(rows_b))
        sys.exit(f"{a} and {b} hold different cases (in one only: {', '.join(only[:10])}).")
    cases = sorted(rows_a)
    ordered_a, ordered_b = [rows_a[c] for c in cases], [rows_b[c] for c in cases]
    result = paired_difference(
        per_case_summariser(ordered_a, figure), per_case_summariser(ordered_b, figure), len(cases), resamples
    )
    column = figure.removeprefix("median:")
    if column in ordered_a[0]:
        diffs = [float(rb[column]) - float(ra[column]) for ra, rb in zip(ordered_a, ordered_b)]
        result.update(
            cases_b_higher=sum(d > 0 for d in diffs),
            cases_b_lower=sum(d < 0 for d in diffs),
            cases_same=sum(d == 0 for d in diffs),
        )
    result = {"a_file": a, "b_file": b, "figure": figure, **result}
    print(json.dumps(result, indent=2))
    if out:
        atomic_write_json(out, result)
    return result


if __name__ == "__main__":
    fire.Fire(main)
