"""Answer groups: similar free-text answers put together, in Chinese and English.

Used by the live class view (text, essay and observation answers on the
projector) and by marking (a marker marks a group once). The method is small,
local and deterministic, with no model to download:

* each answer is normalised (NFKC, case-folded, punctuation to spaces) and cut
  into character n-grams: single characters and pairs in a run of Chinese
  characters (no word segmenter needed; a two-character answer still has
  grams), 3- and 4-grams in a Latin word padded with spaces (word starts and
  ends count);
* the n-grams are weighted by TF-IDF (sub-linear term frequency, smoothed
  inverse document frequency) and each answer's vector is scaled to length 1;
* cosine similarities are computed sparsely (only n-grams two answers share
  cost anything), then each pair's background (how alike the two answers are
  to everybody else: the words of the prompt, the phrases everyone writes) is
  subtracted;
* average-linkage agglomerative clustering merges the most similar groups
  until no two groups are more alike than the threshold on average.

Why not the char 2–3-grams of the issue: on the test answers (Chinese short
answers, Chinese essays with shared openings, English) 2–3-grams needed a
threshold between 0.01 and 0.04 for short Chinese answers and 0.12–0.19 for
essays, no single value served both; 1–2-grams with the background
subtracted work from 0.00 to 0.09 on all three (tests/test_groups.py).

Equal input gives equal groups: ties are broken by answer order.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Average similarity above background at which two groups merge. Chosen on a held-out
#: set, not on the tests' answers (bench/bench_groups.py over bench/groups_heldout.py: 164
#: answers to 9 questions, groups labelled by hand; bench/results/groups.json): mean
#: adjusted Rand index 0.66 at 0.02 (pairwise F1 0.71), 0.64 at 0.015 and at 0.03, 0.62
#: at 0.04 (F1 0.67), below 0.58 from 0.05; 0.02 is also the best with any one question
#: left out. The tests' groups are found from 0.00 to 0.09 (tests/test_groups.py).
THRESHOLD = 0.02
#: added to the IDF: n-grams every answer has still count a little
IDF_PLUS = 0.5
NGRAMS = (1, 2)
LATIN_NGRAMS = (3, 4)
#: the background similarity of an answer is shrunk towards this, as if it had
#: been compared with this many more unrelated answers (matters for a few answers)
BACKGROUND_PRIOR = (0.02, 5)
#: n-grams shared by more answers than this are multiplied densely (BLAS);
#: rarer ones pair by pair. Only a matter of speed, not of the result.
_DENSE_DF = 48

_LATIN = re.compile(r"[0-9a-z]+", re.ASCII)


@dataclass(frozen=True)
class AnswerGroup:
    """One group: indices into the answers given, the most typical one, how alike they are."""

    members: tuple[int, ...]
    example: int
    cohesion: float

    @property
    def size(self) -> int:
        return len(self.members)


def text_of(value: Any) -> str:
    """The text of an answer value: a string, the fields of an observation log, or ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        # an upload record names a file; its text is read by the caller
        if "sha256" in value and "size" in value:
            return ""
        return "\n".join(text_of(v) for v in value.values() if v is not None)
    if isinstance(value, list | tuple):
        return "\n".join(text_of(v) for v in value)
    return (
        json.dumps(value, ensure_ascii=False) if not isinstance(value, int | float) else str(value)
    )


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation and symbols as spaces, single spaces."""
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    s = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in s)
    return " ".join(s.split())


def ngrams(
    text: str, sizes: Sequence[int] | None = None, latin: Sequence[int] | None = None
) -> Counter:
    """Character n-grams of a normalised text; a token shorter than the smallest n counts whole."""
    sizes = sizes or NGRAMS
    latin = latin or LATIN_NGRAMS
    grams: Counter = Counter()
    for tok in normalise(text).split(" "):
        if not tok:
            continue
        # Latin words get boundary spaces (" co", "op "); Chinese runs need none
        is_latin = bool(_LATIN.fullmatch(tok))
        padded = f" {tok} " if is_latin else tok
        use = latin if is_latin else sizes
        if len(padded) < min(use):
            grams[padded] += 1
            continue
        for n in use:
            for i in range(len(padded) - n + 1):
                grams[padded[i : i + n]] += 1
    return grams


def similarity(
    texts: Sequence[str], sizes: Sequence[int] | None = None, latin: Sequence[int] | None = None
) -> np.ndarray:
    """Cosine similarity of TF-IDF character n-gram vectors, an n×n float array (diagonal 1)."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, 0))
    vocab: dict[str, int] = {}
    docs, grams, tfs = [], [], []
    for doc, text in enumerate(texts):
        for gram, c in ngrams(text, sizes, latin).items():
            docs.append(doc)
            grams.append(vocab.setdefault(gram, len(vocab)))
            tfs.append(c)
    sim = np.zeros((n, n))
    if not docs:
        np.fill_diagonal(sim, 1.0)
        return sim
    d = np.asarray(docs, dtype=np.int64)
    g = np.asarray(grams, dtype=np.int64)
    df = np.bincount(g, minlength=len(vocab))
    w = (1.0 + np.log(np.asarray(tfs, dtype=float))) * (
        np.log((1.0 + n) / (1.0 + df[g])) + IDF_PLUS
    )
    norms = np.sqrt(np.bincount(d, weights=w * w, minlength=n))
    norms[norms == 0] = 1.0
    w = w / norms[d]
    # n-grams that only one answer has add nothing to any pair
    shared = df[g] >= 2
    d, g, w = d[shared], g[shared], w[shared]
    dense = df[g] > _DENSE_DF
    if dense.any():
        cols = np.unique(g[dense])
        x = np.zeros((n, len(cols)))
        x[d[dense], np.searchsorted(cols, g[dense])] = w[dense]
        sim += x @ x.T
    d, g, w = d[~dense], g[~dense], w[~dense]
    order = np.lexsort((d, g))
    d, g, w = d[order], g[order], w[order]
    k_of = df[g]
    flat = np.zeros(n * n)
    for k in np.unique(k_of):
        sel = k_of == k
        # entries of one n-gram are contiguous (sorted by n-gram): rows of k answers each
        dk, wk = d[sel].reshape(-1, k), w[sel].reshape(-1, k)
        iu, ju = np.triu_indices(int(k), 1)
        flat += np.bincount(
            (dk[:, iu] * n + dk[:, ju]).ravel(),
            weights=(wk[:, iu] * wk[:, ju]).ravel(),
            minlength=n * n,
        )
    pair = flat.reshape(n, n)
    sim += pair + pair.T
    np.fill_diagonal(sim, 1.0)
    return np.clip(sim, 0.0, 1.0)


def contrast(sim: np.ndarray) -> np.ndarray:
    """Similarity above each pair's background (the mean similarity of the two answers to all others).

    Answers to one prompt share its words; long ones share more. Subtracting
    the background lets one threshold serve two-word answers and essays alike.
    """
    n = len(sim)
    prior, weight = BACKGROUND_PRIOR
    off = sim.sum(axis=1) - np.diag(sim)
    background = (off + prior * weight) / (n - 1 + weight)
    out = sim - (background[:, None] + background[None, :]) / 2
    np.fill_diagonal(out, 1.0)
    return out


def cluster(sim: np.ndarray, threshold: float = THRESHOLD) -> list[list[int]]:
    """Average-linkage agglomerative clustering of a similarity matrix, cut at `threshold`.

    Returns the groups as sorted lists of indices, in order of their smallest index.
    """
    n = len(sim)
    if n == 0:
        return []
    s = np.array(sim, dtype=float)
    np.fill_diagonal(s, -np.inf)
    size = np.ones(n)
    active = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    best_j = np.argmax(s, axis=1)
    best_v = s[np.arange(n), best_j]
    while True:
        v = np.where(active, best_v, -np.inf)
        i = int(np.argmax(v))
        if not v[i] >= threshold:
            break
        a, b = sorted((i, int(best_j[i])))
        merged = (size[a] * s[a] + size[b] * s[b]) / (size[a] + size[b])
        s[a, :] = merged
        s[:, a] = merged
        s[a, a] = -np.inf
        s[b, :] = -np.inf
        s[:, b] = -np.inf
        active[b] = False
        size[a] += size[b]
        members[a] += members[b]
        members[b] = []
        stale = np.flatnonzero(active & ((best_j == a) | (best_j == b)))
        for k in {a, *stale.tolist()}:
            best_j[k] = int(np.argmax(s[k]))
            best_v[k] = s[k, best_j[k]]
        better = active & (merged > best_v)
        better[a] = False
        best_j[better] = a
        best_v[better] = merged[better]
    return sorted((sorted(m) for m in members if m), key=lambda m: m[0])


def group_answers(
    texts: Sequence[str],
    *,
    threshold: float = THRESHOLD,
    sizes: Sequence[int] | None = None,
    latin: Sequence[int] | None = None,
) -> list[AnswerGroup]:
    """Group similar answers; largest group first (ties: the earlier answer first).

    Each group names its example: the member most similar, on average, to the
    others (the one a marker or a room should read).
    """
    texts = [str(t or "") for t in texts]
    if not texts:
        return []
    sim = similarity(texts, sizes, latin)
    out = []
    for m in cluster(contrast(sim), threshold):
        sub = sim[np.ix_(m, m)]
        if len(m) == 1:
            out.append(AnswerGroup((m[0],), m[0], 1.0))
            continue
        mean = (sub.sum(axis=1) - 1.0) / (len(m) - 1)
        out.append(AnswerGroup(tuple(m), m[int(np.argmax(mean))], float(mean.mean())))
    return sorted(out, key=lambda grp: (-grp.size, grp.members[0]))


def labels(groups: Sequence[AnswerGroup], n: int) -> list[int]:
    """Group number (1 = largest) of each of `n` answers, or 0 for none."""
    out = [0] * n
    for num, grp in enumerate(groups, 1):
        for i in grp.members:
            out[i] = num
    return out
