"""Answer groups: which threshold finds the groups a marker would draw, on answers the tests never saw.

`kit.marking.groups.THRESHOLD` decides when two groups of answers merge. Chosen on
the answers of ``tests/test_groups.py`` it would be fitted to its own test;
here it is chosen on a held-out set (``bench/groups_heldout.py``: nine
questions from the sample course's themes, Chinese and English, short answers
and three-minute speech outlines, groups labelled by hand). For each
threshold of the sweep every question's answers are grouped (in three
shuffled orders, as a class hands them in) and scored against the labels:

* the adjusted Rand index (ARI: 1 is the labelled grouping, 0 is what chance
  agreement gives, below 0 worse than chance);
* pairwise F1 (precision: of the pairs put together, how many belong
  together; recall: of the pairs that belong together, how many were put
  together).

The best threshold has the highest mean ARI over the questions (each question
counts once, whatever its size); where several do, the middle of that run.
How firm that choice is: the best threshold with each question left out.

    python bench/bench_groups.py [--lo 0] [--hi 0.2] [--step 0.005]

Writes ``bench/results/groups.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from groups_heldout import QUESTIONS  # noqa: E402

from kit.marking import groups  # noqa: E402

SEEDS = (0, 1, 2)


def truth_of(question: dict) -> tuple[list[str], list[int]]:
    """The question's answers and their labelled group (each loner a group of its own)."""
    texts, labels = [], []
    for n, grp in enumerate(question["groups"]):
        texts += grp
        labels += [n] * len(grp)
    for k, loner in enumerate(question["loners"]):
        texts.append(loner)
        labels.append(len(question["groups"]) + k)
    return texts, labels


def _pairs(counts: np.ndarray) -> float:
    return float((counts * (counts - 1) / 2).sum())


def adjusted_rand(truth: list[int], found: list[int]) -> float:
    """The adjusted Rand index of two labellings of the same items (Hubert and Arabie)."""
    _, t = np.unique(truth, return_inverse=True)
    _, f = np.unique(found, return_inverse=True)
    table = np.zeros((t.max() + 1, f.max() + 1))
    np.add.at(table, (t, f), 1)
    both = _pairs(table)
    rows, cols = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    expected = rows * cols / _pairs(np.array([len(truth)]))
    best = (rows + cols) / 2
    return 1.0 if best == expected else (both - expected) / (best - expected)


def pairwise_f1(truth: list[int], found: list[int]) -> float:
    """F1 of the pairs put together against the pairs that belong together."""
    t, f = np.asarray(truth), np.asarray(found)
    iu = np.triu_indices(len(t), 1)
    same_t = (t[:, None] == t[None, :])[iu]
    same_f = (f[:, None] == f[None, :])[iu]
    hit = float((same_t & same_f).sum())
    if not same_t.any() and not same_f.any():
        return 1.0
    precision = hit / same_f.sum() if same_f.any() else 0.0
    recall = hit / same_t.sum() if same_t.any() else 0.0
    return 0.0 if hit == 0 else 2 * precision * recall / (precision + recall)


def score(question: dict, threshold: float) -> tuple[float, float]:
    """Mean (ARI, pairwise F1) of the question's grouping at `threshold`, over shuffled orders."""
    texts, truth = truth_of(question)
    aris, f1s = [], []
    for seed in SEEDS:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        got = groups.group_answers([texts[i] for i in order], threshold=threshold)
        found = groups.labels(got, len(texts))
        want = [truth[i] for i in order]
        aris.append(adjusted_rand(want, found))
        f1s.append(pairwise_f1(want, found))
    return float(np.mean(aris)), float(np.mean(f1s))


def best_of(thresholds: list[float], means: list[float]) -> float:
    """The threshold of the highest mean; of several equal ones, the middle of their run."""
    top = max(means)
    at = [i for i, m in enumerate(means) if m >= top - 1e-9]
    run = [at[0]]
    for i in at[1:]:
        if i != run[-1] + 1:
            break
        run.append(i)
    return thresholds[run[len(run) // 2]]


def sweep(thresholds: list[float]) -> dict:
    """Every question's scores at every threshold, the means, and the best threshold."""
    rows = []
    for th in thresholds:
        per = {q["id"]: score(q, th) for q in QUESTIONS}
        rows.append(
            {
                "threshold": round(th, 4),
                "ari": float(np.mean([a for a, _ in per.values()])),
                "f1": float(np.mean([f for _, f in per.values()])),
                "min_ari": float(min(a for a, _ in per.values())),
                "questions": {q: {"ari": a, "f1": f} for q, (a, f) in per.items()},
            }
        )
    ths = [r["threshold"] for r in rows]
    best = best_of(ths, [r["ari"] for r in rows])
    # how firm the choice is: the best threshold with each question left out in turn
    left_out = {
        q["id"]: best_of(
            ths,
            [
                float(np.mean([a["ari"] for k, a in r["questions"].items() if k != q["id"]]))
                for r in rows
            ],
        )
        for q in QUESTIONS
    }
    return {
        "heldout": {q["id"]: len(truth_of(q)[0]) for q in QUESTIONS},
        "seeds": list(SEEDS),
        "current": groups.THRESHOLD,
        "best": best,
        "best_without": left_out,
        "sweep": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lo", type=float, default=0.0)
    ap.add_argument("--hi", type=float, default=0.2)
    ap.add_argument("--step", type=float, default=0.005)
    a = ap.parse_args()
    n = int(round((a.hi - a.lo) / a.step)) + 1
    result = sweep([a.lo + i * a.step for i in range(n)])
    ids = list(result["heldout"])
    print(
        f"{'threshold':>9}  {'ARI':>5}  {'F1':>5}  {'min':>5}  "
        + "  ".join(f"{q[:8]:>8}" for q in ids)
    )
    for r in result["sweep"]:
        mark = " <" if r["threshold"] == result["best"] else ""
        mark += " (now)" if abs(r["threshold"] - result["current"]) < 1e-9 else ""
        cells = "  ".join(f"{r['questions'][q]['ari']:8.3f}" for q in ids)
        print(
            f"{r['threshold']:9.3f}  {r['ari']:5.3f}  {r['f1']:5.3f}  {r['min_ari']:5.2f}  {cells}{mark}"
        )
    print(f"best threshold {result['best']} (now {result['current']})")
    print("best with one question left out:", json.dumps(result["best_without"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "groups.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
