"""Answer groups: similar answers together, for Chinese and English, deterministic."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from classroom import ACCOUNT, CALLBACK, LONERS, POINTS, STAFF, TRIAGE  # noqa: E402, F401

from kit.marking.groups import group_answers, labels, similarity, text_of  # noqa: E402


def _partition(groups, texts) -> set[frozenset[str]]:
    return {frozenset(texts[i] for i in g.members) for g in groups}


def test_chinese_answers_fall_into_their_known_groups_in_any_order() -> None:
    texts = [t for point in POINTS for t in point] + LONERS
    want = {frozenset(p) for p in POINTS} | {frozenset([t]) for t in LONERS}
    for seed in range(3):
        shuffled = texts[:]
        random.Random(seed).shuffle(shuffled)
        groups = group_answers(shuffled)
        assert _partition(groups, shuffled) == want
        # largest first; every example is a member of its group
        assert [g.size for g in groups] == sorted((g.size for g in groups), reverse=True)
        assert all(g.example in g.members for g in groups)


def test_chinese_essays_with_shared_openings_group_by_their_point() -> None:
    # longer answers that share the phrases everyone writes (openings, closings)
    rng = random.Random(1)
    opens = [
        "作为一名基层干部，我认为这个问题需要认真对待。",
        "结合本地实际情况，谈谈我的看法。",
        "12345热线是联系群众的重要渠道，积压工单必须妥善处理。",
    ]
    closes = ["总之，要把群众的事当成自己的事来办。", "以上是我的一点粗浅认识。"]
    essays, truth = [], []
    for n, point in enumerate(POINTS):
        for _ in range(8):
            essays.append(rng.choice(opens) + "".join(rng.sample(point, 2)) + rng.choice(closes))
            truth.append(n)
    got = labels(group_answers(essays), len(essays))
    assert len(set(got)) == len(POINTS)
    for n in range(len(POINTS)):
        assert len({g for g, t in zip(got, truth, strict=True) if t == n}) == 1


def test_english_answers_group_too() -> None:
    points = [
        [
            "Sort the backlog by urgency and dispatch urgent tickets first.",
            "Triage tickets by urgency; urgent ones are dispatched first.",
            "Classify the tickets by urgency and dispatch them to departments.",
        ],
        [
            "Hire more call agents and work overtime to clear the backlog.",
            "Add staff and schedule overtime shifts to clear the backlog.",
            "Bring in extra staff from other offices and work overtime.",
        ],
        [
            "Call citizens back after closing a ticket to check satisfaction.",
            "Follow up with a call back to every citizen and ask if they are satisfied.",
            "Check citizen satisfaction with follow-up calls.",
        ],
    ]
    texts = [t for p in points for t in p] + ["No idea."]
    want = {frozenset(p) for p in points} | {frozenset(["No idea."])}
    assert _partition(group_answers(texts), texts) == want


def test_small_cases_and_same_result_twice() -> None:
    assert group_answers([]) == []
    assert [g.members for g in group_answers(["求助"])] == [(0,)]
    # the same answer typed twice (spaces, full-width letters) is one group even among few
    assert [g.members for g in group_answers(["求助", "咨询", " 求助！"])] == [(0, 2), (1,)]
    assert [g.members for g in group_answers(["ＯＫ", "ok"])] == [(0, 1)]
    texts = TRIAGE + STAFF
    assert group_answers(texts) == group_answers(list(texts))
    sim = similarity(texts)
    assert (abs(sim - sim.T) < 1e-12).all() and (sim.diagonal() == 1).all()


def test_text_of_answer_values() -> None:
    assert text_of({"what": "看到积分超市", "who": "村书记"}) == "看到积分超市\n村书记"
    assert text_of({"name": "r.pdf", "size": 3, "sha256": "ab"}) == ""
    assert text_of(None) == "" and text_of(12.5) == "12.5"
