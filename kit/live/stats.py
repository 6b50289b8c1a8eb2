"""What the room answered, per question kind: the numbers the live view draws.

`summarise(spec, answers, key, revealed, lang)` turns ``{trainee: value}`` into
a JSON-able summary, chosen by the question's kind from `SUMMARIES` (one
function per kind of chart): bars for choice, multiple choice and rating, a
histogram for numbers, mean positions for a ranking, answer groups
(`kit.marking.groups`) for short texts, essays and observation logs, a count for the
rest. Answers that do not fit the question (a value a trainee forged into the
exchange, an option renamed since) are left out and counted as ``ignored``.

The key is in a summary only when ``revealed``; names never are (the caller
passes `names` only when the instructor asked for a named view).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from kit.kinds import find, is_empty, score
from kit.kinds.base import KeyRecord, QuestionSpec, normalise_text
from kit.messages import t
from kit.numbers import statistic

MAX_GROUPS = 8
EXAMPLE_CHARS = 160
Summary = dict[str, Any]
#: A question's key record; None where it has none, or none is shown.
Key = KeyRecord | None


def _key_value(key: Key) -> Any:
    return None if not key else key.get("value")


def _correct(spec: QuestionSpec, key: Key, values: list[Any]) -> int | None:
    """How many answers score full points against the key (None without a key)."""
    if not key or _key_value(key) is None or not spec.get("points"):
        return None
    n = 0
    for v in values:
        with_key = score(spec, key, v)
        n += with_key.status == "correct"
    return n


def _bars(labels: list[str], counts: Counter, keyed: set[str], revealed: bool) -> list[dict]:
    return [
        {
            "label": lab,
            "count": int(counts.get(lab, 0)),
            **({"key": lab in keyed} if revealed else {}),
        }
        for lab in labels
    ]


def _choice(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    opts = [str(o) for o in spec.get("options") or []]
    ok = [v for v in values if isinstance(v, str) and v in opts]
    kv = _key_value(key)
    if isinstance(kv, int) and not isinstance(kv, bool) and 0 <= kv < len(opts):
        kv = opts[kv]
    keyed = {o for o in opts if kv is not None and normalise_text(o) == normalise_text(kv)}
    return {"chart": "bars", "bars": _bars(opts, Counter(ok), keyed, revealed), "values": ok}


def _multi(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    opts = [str(o) for o in spec.get("options") or []]
    ok = [v for v in values if isinstance(v, list) and all(x in opts for x in v)]
    counts = Counter(x for v in ok for x in set(v))
    kv = _key_value(key)
    want = {normalise_text(x) for x in (kv if isinstance(kv, list) else [kv])} if kv else set()
    keyed = {o for o in opts if normalise_text(o) in want}
    return {"chart": "bars", "bars": _bars(opts, counts, keyed, revealed), "values": ok}


def _rating(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    scale = int(spec.get("scale") or 5)
    names = spec.get("labels") or [str(i) for i in range(1, scale + 1)]
    ok = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= scale]
    counts = Counter(ok)
    bars = [
        {"label": str(names[i - 1]), "count": int(counts.get(i, 0))} for i in range(1, scale + 1)
    ]
    out: Summary = {"chart": "bars", "bars": bars, "values": ok}
    if ok:
        out["note"] = t("live_mean", lang, x=statistic(statistics.fmean(ok)))
    return out


def _bins(values: list[float]) -> list[dict]:
    lo, hi = min(values), max(values)
    distinct = sorted(set(values))
    if len(distinct) <= 8:
        counts = Counter(values)
        return [{"label": statistic(v), "count": counts[v], "lo": v, "hi": v} for v in distinct]
    # about sqrt(n) bins, at most 10, with a round width
    want = max(4, min(10, round(math.sqrt(len(values)))))
    raw = (hi - lo) / want
    mag = 10 ** math.floor(math.log10(raw))
    width = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / width) * width
    edges = [start + i * width for i in range(int(math.ceil((hi - start) / width)) + 1)]
    if edges[-1] <= hi:
        edges.append(edges[-1] + width)
    bins = []
    for a, b in zip(edges, edges[1:], strict=False):
        last = b == edges[-1]
        n = sum(1 for v in values if a <= v < b or (last and v == b))
        bins.append({"label": f"{statistic(a)}–{statistic(b)}", "count": n, "lo": a, "hi": b})
    return bins


def _number(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    ok = [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if not ok:
        return {"chart": "histogram", "bins": [], "values": []}
    kv = _key_value(key)
    kf = float(kv) if revealed and isinstance(kv, int | float) else None
    bins = _bins(ok)
    if kf is not None:
        for b in bins:
            b["key"] = b["lo"] <= kf <= b["hi"]
    note = t("live_median", lang, x=statistic(statistics.median(ok)))
    note += " · " + t("live_mean", lang, x=statistic(statistics.fmean(ok)))
    return {"chart": "histogram", "bins": bins, "note": note, "values": ok}


def _ranking(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    items = [str(i) for i in spec.get("items") or []]
    ok = [v for v in values if isinstance(v, list) and sorted(map(str, v)) == sorted(items)]
    rows = []
    for item in items:
        pos = [v.index(item) + 1 for v in ok]
        rows.append({"label": item, "mean": statistics.fmean(pos) if pos else None})
    rows.sort(key=lambda r: (r["mean"] is None, r["mean"] or 0))
    kv = _key_value(key)
    if revealed and isinstance(kv, list):
        order = [normalise_text(x) for x in kv]
        for r in rows:
            n = normalise_text(r["label"])
            r["key"] = order.index(n) + 1 if n in order else None
    return {"chart": "ranking", "items": rows, "values": ok}


def _texts(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    from kit.marking.groups import group_answers, text_of

    texts = [text_of(v).strip() for v in values]
    ok = [x for x in texts if x]
    who = [w for w, x in zip(who or [None] * len(texts), texts, strict=True) if x]
    groups = group_answers(ok)
    kv = _key_value(key)
    accepted = {normalise_text(x) for x in (kv if isinstance(kv, list) else [kv])} if kv else set()
    out = []
    for grp in groups[:MAX_GROUPS]:
        example = ok[grp.example]
        row: dict[str, Any] = {
            "count": grp.size,
            "example": example
            if len(example) <= EXAMPLE_CHARS
            else example[: EXAMPLE_CHARS - 1] + "…",
        }
        if revealed and accepted:
            row["key"] = sum(normalise_text(ok[i]) in accepted for i in grp.members) > grp.size / 2
        if any(who):
            row["who"] = [who[i] for i in grp.members if who[i]]
        out.append(row)
    rest = sum(g.size for g in groups[MAX_GROUPS:])
    return {"chart": "groups", "groups": out, "others": rest, "values": ok}


def _count(
    spec: QuestionSpec, values: list, key: Key, revealed: bool, lang: str, who: list | None = None
) -> Summary:
    return {"chart": "count", "values": values}


#: the chart of each kind of question that has one of its own
SUMMARIES: dict[str, Callable[..., Summary]] = {
    "choice": _choice,
    "multi": _multi,
    "rating": _rating,
    "number": _number,
    "ranking": _ranking,
    "observation": _texts,
}


def summary_of(kind: Any) -> Callable[..., Summary]:
    """The summary of a kind: its own chart, else answer groups for free text, else a count."""
    if kind in SUMMARIES:
        return SUMMARIES[kind]
    return _texts if find(kind).free_text else _count


def key_text(spec: QuestionSpec, key: Key) -> str:
    """The key as the room reads it ("求助", "12.5 万元", "A；C", "甲 → 乙 → 丙")."""
    kv = _key_value(key)
    if kv is None:
        return ""
    kind = spec.get("kind")
    if kind == "choice" and isinstance(kv, int) and not isinstance(kv, bool):
        opts = spec.get("options") or []
        kv = opts[kv] if 0 <= kv < len(opts) else kv
    if kind == "ranking" and isinstance(kv, list):
        return " → ".join(map(str, kv))
    if isinstance(kv, list):
        return "；".join(map(str, kv))
    if kind == "number" and spec.get("number_unit"):
        return f"{statistic(float(kv))} {spec['number_unit']}"
    return str(kv)


def summarise(
    spec: QuestionSpec,
    answers: dict[str, Any],
    key: Key,
    *,
    revealed: bool,
    lang: str = "zh",
    names: dict[str, str] | None = None,
    own: dict[str, KeyRecord] | None = None,
) -> Summary:
    """The room's answers to one question, ready to draw (see the module docstring).

    With ``names`` (trainee → name: a named view) an answer group lists who is in it.
    With ``own`` (trainee → key: a variant per trainee whose keys differ) each
    answer is right or wrong by its trainee's own key, and no single key is shown.
    """
    given_by = {k: v for k, v in answers.items() if not is_empty(spec, v)}
    given = list(given_by.values())
    who = [names.get(k, k) for k in given_by] if names is not None else None
    shared = key if own is None else None  # no one bar or bin is every trainee's right answer
    out = summary_of(spec.get("kind"))(spec, given, shared, revealed, lang, who)
    values = out.pop("values")
    out["n"] = len(values)
    out["ignored"] = len(given) - len(values)
    if revealed and own is not None:
        out["key"] = t("live_key_own", lang)
        if spec.get("points") and find(spec.get("kind")).keyed:
            out["correct"] = sum(
                k in own and score(spec, own[k], v).status == "correct" for k, v in given_by.items()
            )
    elif revealed and key:
        out["key"] = key_text(spec, key)
        right = _correct(spec, key, values)
        if right is not None and find(spec.get("kind")).keyed:
            out["correct"] = right
    return out


def trainee_result(summary: Summary, lang: str) -> dict:
    """The short class result a practice workbook shows after the reveal: rows of label and value."""
    chart = summary.get("chart")
    people = lambda n: t("live_people", lang, n=n)  # noqa: E731
    if chart == "bars":
        rows = [{"label": b["label"], "value": people(b["count"])} for b in summary["bars"]]
    elif chart == "histogram":
        rows = [{"label": b["label"], "value": people(b["count"])} for b in summary["bins"]]
    elif chart == "ranking":
        rows = [
            {"label": r["label"], "value": f"{t('live_mean_rank', lang)} {statistic(r['mean'])}"}
            for r in summary["items"]
            if r["mean"] is not None
        ]
    elif chart == "groups":
        rows = [{"label": g["example"], "value": people(g["count"])} for g in summary["groups"][:3]]
    else:
        rows = []
    return {"rows": rows, "note": summary.get("note", "")}
