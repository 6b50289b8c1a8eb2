"""A variant per trainee: own data, own keys, graded by their own keys (issue #14, item 1).

One build of a 30-trainee cohort whose session says ``variants = trainee``;
every check goes through the real build (executor), release, the workbook
runtime, submit, collect and grade.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import _code, _md, python_notebook, run_cli, write_course

from kit import artifacts, kinds
from kit.builder import build, check
from kit.course import load_course, stable_seed

COHORT, SESSION, N = "big", "calls", 30
TRAINEES = [f"v{i:02d}" for i in range(1, N + 1)]
TOWNS = ["东山镇", "西河镇", "南坪镇", "北岭镇"]


def calls_notebook() -> nbformat.NotebookNode:
    """A drill whose data comes from ``seed``: a total (number), the busiest town's calls (code)."""
    return python_notebook(
        [
            _md("# 12345 热线来电分析"),
            _code(
                'cohort = "demo"\nsession = "calls"\nunit = "blue"\nseed = 0\ntrainee = None',
                "parameters",
            ),
            _code(
                "import numpy as np\nimport pandas as pd\nfrom kit.questions import ask, key, test\n"
                "rng = np.random.default_rng(seed)\n"
                f"calls = pd.DataFrame({{'乡镇': {TOWNS!r}, '来电': rng.uniform(50, 500, 4).round(2)}})\n"
                "calls"
            ),
            _code('ask.number("q-total", "四个乡镇共来电多少次？", tolerance=0.01, points=2)'),
            _code('key("q-total", round(float(calls["来电"].sum()), 2))', "key"),
            _code('ask.choice("q-channel", "群众诉求的主渠道是？", ["12345 热线", "信访窗口"])'),
            _code('key("q-channel", "12345 热线")', "key"),
            _code('ask.code("q-top", "把来电最多的乡镇的来电数存入 top。", points=3)'),
            _code('top = float(calls["来电"].max())', "solution"),
            _code(
                '@test("q-top", points=3, name="来电最多的乡镇")\n'
                'def _():\n    assert abs(top - float(calls["来电"].max())) < 1e-9',
                "hidden-tests",
            ),
        ]
    )


def calls_for(seed: int) -> list[float]:
    """What the notebook computes for a seed (the test knows the author's formula)."""
    return np.random.default_rng(seed).uniform(50, 500, 4).round(2).tolist()


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = write_course(tmp_path_factory.mktemp("variants") / "course", cohorts={"c1": 0.05})
    nbformat.write(calls_notebook(), str(root / "cases/calls.ipynb"))
    for cid, trainees, mode in ((COHORT, TRAINEES, "assessed"), ("p1", ["p01", "p02"], "practice")):
        d = root / "cohorts" / cid
        d.mkdir()
        (d / "cohort.toml").write_text(f'name = "{cid} 班"\n', encoding="utf-8")
        rows = "".join(f"{t},学员{t},民政局,东山镇,A\n" for t in trainees)
        (d / "roster.csv").write_text("id,name,department,township,group\n" + rows, "utf-8")
        (d / "schedule.csv").write_text(
            "session,notebook,date,teacher,site,method,unit,hours,mode,due,params,variants\n"
            f"{SESSION},cases/calls.ipynb,2026-05-22,f2,s1,seminar,blue,2,{mode},,{{}},trainee\n",
            encoding="utf-8",
        )
    return root


@pytest.fixture(scope="module")
def built(course: Path):
    result = build(course, COHORT, progress=False)
    assert result.ok, result.failures
    return result


def _keys(course: Path, trainee: str | None, cohort: str = COHORT) -> artifacts.KeysFile:
    c = load_course(course)
    keys, _ = artifacts.read_keys(artifacts.build_paths(c, cohort, SESSION, trainee).keys)
    return keys


def _data(nb_path: Path) -> str:
    """The text of the data exhibit (the third cell's output) of a built edition."""
    nb = nbformat.read(str(nb_path), as_version=4)
    cell = next(c for c in nb.cells if "rng.uniform" in c.source)
    return "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_every_trainee_gets_own_data_and_keys_the_reference_stays_the_cohorts(course, built):
    c = load_course(course)
    assert [b.session for b in built.sessions] == [SESSION]
    assert sorted(b.variant for b in built.variants) == TRAINEES
    assert not any(b.cached for b in built.variants)

    ref = _keys(course, None)
    assert ref.variant is None and ref.parameters["trainee"] is None
    assert ref.parameters["seed"] == stable_seed(COHORT)  # handouts show the cohort's reference
    assert (c.build_dir / COHORT / "instructor" / f"{SESSION}.keys.json").exists()

    totals, data = {}, {}
    for t in TRAINEES:
        keys = _keys(course, t)
        assert keys.variant == t and keys.parameters["trainee"] == t
        assert keys.parameters["seed"] == stable_seed(f"{COHORT}/{t}")
        totals[t] = keys.keys["q-total"]["value"]
        assert totals[t] == pytest.approx(sum(calls_for(keys.parameters["seed"])))
        assert keys.keys["q-channel"]["value"] == "12345 热线"  # no parameter makes it differ
        paths = artifacts.build_paths(c, COHORT, SESSION, t)
        assert paths.trainee.is_relative_to(c.build_dir / COHORT / "variants" / t)
        data[t] = _data(paths.trainee)
        assert data[t] == _data(paths.instructor)  # one execution, two editions
        assert str(totals[t]) not in paths.trainee.read_text("utf-8")  # no key in the workbook
    assert len(set(totals.values())) == N and ref.keys["q-total"]["value"] not in totals.values()
    assert len(set(data.values())) == N

    # a session everyone shares still maps every trainee to the cohort's files
    shared = artifacts.build_paths(c, "c1", "coop", "t01")
    assert shared == artifacts.build_paths(c, "c1", "coop")


def test_a_perfect_answer_copied_to_another_trainee_scores_less(course, built, tmp_path):
    from kit import workbook
    from kit.gradebook import Gradebook
    from kit.grading import collect, grade

    c = load_course(course)
    released = workbook.release(c, COHORT)
    assert not released.failures and len(released.written) == N
    from kit.exchange.trust import course_secret, release_token

    secret = course_secret(c.root)
    assert secret is not None
    for t in ("v01", "v02"):  # each workbook holds that trainee's own data, signed for them
        wb = artifacts.outbox_path(c.exchange_dir, COHORT, t, SESSION)
        assert _data(wb) == _data(artifacts.build_paths(c, COHORT, SESSION, t).trainee)
        token = nbformat.read(str(wb), as_version=4).metadata["casekit"]["release"]
        assert token == release_token(secret, COHORT, SESSION, t)

    own = _keys(course, "v01")
    top = max(calls_for(own.parameters["seed"]))
    perfect = {
        "q-total": own.keys["q-total"]["value"],
        "q-channel": "12345 热线",
        "q-top": f"top = {top!r}",  # what v01 computed from their own table
    }
    # v02 hands in v01's perfect answers; v03 gets the total wrong on their own
    handed = {"v01": perfect, "v02": perfect, "v03": {**perfect, "q-total": 1.0}}
    for t, answers in handed.items():
        wb = artifacts.outbox_path(c.exchange_dir, COHORT, t, SESSION)
        rt = workbook.open_workbook(
            SESSION, trainee=t, cohort=COHORT, exchange=c.exchange_dir,
            language=c.language, store=artifacts.answers_path(wb),
        )  # fmt: skip
        try:
            for qid, value in answers.items():
                rt.save(qid, value, own.specs()[qid]["kind"])
        finally:
            workbook.close_workbook()
        workbook.submit(wb)
    db = f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
    assert collect(c, COHORT, db=db).ok
    graded = grade(c, COHORT, SESSION, db=db, progress=False)
    assert not graded.failures, graded.failures
    with Gradebook.open(c.root, db) as gb:
        qs = gb.question_scores(COHORT, SESSION)
    got = {(r.trainee, r.question): r.points for r in qs.itertuples()}
    assert {q: got[("v01", q)] for q in perfect} == {"q-total": 2, "q-channel": 1, "q-top": 3}
    # v02's data differ from v01's: the total and the busiest town's calls are wrong for v02
    theirs = calls_for(_keys(course, "v02").parameters["seed"])
    assert sum(theirs) != pytest.approx(perfect["q-total"]) and max(theirs) != top
    assert {q: got[("v02", q)] for q in perfect} == {"q-total": 0, "q-channel": 1, "q-top": 0}

    # after the due time each feedback page reveals that trainee's own right total
    from kit.grading import feedback
    from kit.kinds.base import num

    def page(t: str, now: datetime) -> str:
        written = feedback(c, COHORT, session=SESSION, db=db, now=now)
        assert not written.failures, written.failures
        return artifacts.feedback_path(c, COHORT, t, SESSION).read_text("utf-8")

    def shown(t: str) -> str:  # a total as the page writes it
        return num(round(float(_keys(course, t).keys["q-total"]["value"]), 6))

    after, before = datetime(2026, 5, 23, 12, tzinfo=UTC), datetime(2026, 5, 22, 1, tzinfo=UTC)
    reference = num(round(float(_keys(course, None).keys["q-total"]["value"]), 6))
    for t in ("v02", "v03"):  # both got the total wrong: each reads their own right one
        text = page(t, after)
        others = {shown(o) for o in ("v01", "v02", "v03") if o != t} | {reference}
        assert shown(t) in text and not any(o in text for o in others - {shown("v01")})
        assert t == "v02" or shown("v01") not in text  # v02's answer was v01's total
        assert shown(t) not in page(t, before)  # not before the due time


def test_variants_are_cached_each_on_its_own(course, built):
    again = build(course, COHORT, progress=False)
    assert again.ok and all(b.cached for b in again.sessions + again.variants)
    roster = course / "cohorts" / COHORT / "roster.csv"
    before = roster.read_text("utf-8")
    try:
        roster.write_text(before + "v31,新学员,民政局,东山镇,A\n", "utf-8")
        from kit import workbook

        # released before the build: the newcomer's own variant is missing, and release says so
        early = workbook.release(course, COHORT, trainees=["v30", "v31"])
        assert [f.item for f in early.failures] == [
            str(artifacts.build_paths(load_course(course), COHORT, SESSION, "v31").trainee)
        ]
        assert "v31" in early.failures[0].item and len(early.written + early.unchanged) == 1
        grown = build(course, COHORT, progress=False)
        fresh = [b.variant for b in grown.sessions + grown.variants if not b.cached]
        assert fresh == ["v31"] and len(grown.variants) == N + 1
    finally:
        roster.write_text(before, "utf-8")


def test_practice_hashes_are_per_variant(course):
    result = build(course, "p1", progress=False)
    assert result.ok, result.failures
    from kit import workbook

    c = load_course(course)
    assert not workbook.release(c, "p1").failures
    tables = {}
    for t in ("p01", "p02"):
        paths = artifacts.build_paths(c, "p1", SESSION, t)
        tables[t] = artifacts.read_practice(paths.practice)
        setup = nbformat.read(str(artifacts.outbox_path(c.exchange_dir, "p1", t, SESSION)), 4)
        assert repr(tables[t]) in setup.cells[0].source  # the workbook checks against its own
    spec = _keys(course, "p01", "p1").specs()["q-total"]
    right = _keys(course, "p01", "p1").keys["q-total"]["value"]
    assert kinds.practice_check(spec, tables["p01"]["q-total"], right) is True
    assert kinds.practice_check(spec, tables["p02"]["q-total"], right) is False


def test_check_validates_the_column_and_warns_when_variants_could_not_differ(course, tmp_path):
    schedule = course / "cohorts" / "c1" / "schedule.csv"
    before = schedule.read_text("utf-8")
    try:
        # the coop case reads no seed: per-trainee variants would all be alike
        schedule.write_text(
            before.replace(",params\n", ",params,variants\n").rstrip("\n") + ",trainee\n"
        )
        result = check(course)
        warned = [p for p in result.warnings if p.field == "variants"]
        assert result.ok and len(warned) == 1 and "coop" in str(warned[0])
        assert all(p.field != "variants" or "calls" not in str(p) for p in result.problems)
        said = run_cli("check", str(course), "--lang", "en")  # a warning: the course still checks
        assert said.returncode == 0, said.stdout + said.stderr
        assert any("coop" in x and "`seed`" in x for x in (said.stdout + said.stderr).splitlines())

        schedule.write_text(
            before.replace(",params\n", ",params,variants\n").rstrip("\n") + ",student\n"
        )
        r = run_cli("check", str(course), "--lang", "en")
        assert r.returncode == 2 and "Traceback" not in r.stderr
        line = next(x for x in r.stderr.splitlines() if x.startswith("✗"))
        assert "schedule.csv" in line and "student" in line and "'cohort'" in line, line
    finally:
        schedule.write_text(before, "utf-8")


def test_grading_reads_the_variant_a_submission_belongs_to(course, built):
    from kit.grading import load_keys

    c = load_course(course)
    mine, theirs = load_keys(c, COHORT, SESSION, "v05"), load_keys(c, COHORT, SESSION, "v06")
    assert mine.variant == "v05" and mine.parameters and mine.parameters["trainee"] == "v05"
    assert mine.keys["q-total"] != theirs.keys["q-total"]
    assert mine.fingerprint != theirs.fingerprint  # a rebuilt variant regrades only its trainee
    assert json.dumps(load_keys(c, COHORT, SESSION).parameters["trainee"]) == "null"


def test_try_grades_against_the_named_trainees_own_variant(course, built, tmp_path):
    c = load_course(course)
    mine = _keys(course, "v04").keys["q-total"]["value"]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"q-total": mine, "q-channel": "12345 热线"}), "utf-8")
    from kit.trial import try_answers

    def total(trainee: str) -> float:
        r = try_answers(c, COHORT, SESSION, answers, trainee=trainee, out=tmp_path / "p.html")
        assert r.trainee == trainee and not r.failures
        return next(q["points"] for q in r.questions if q["question"] == "q-total")

    assert total("v04") == 2 and total("v05") == 0  # v04's right total is wrong for v05
    # the command line says the same, in full, for the trainee named
    r = run_cli(
        "try", COHORT, SESSION, "-C", str(course), "--answers", str(answers),
        "--trainee", "v05", "--lang", "en",
    )  # fmt: skip
    line = next(x for x in r.stdout.splitlines() if "q-total" in x)
    assert "0 / 2" in line, r.stdout + r.stderr


def test_handouts_show_the_cohorts_reference_variant(course, built):
    from kit.pages.handouts import handouts

    c = load_course(course)
    r = handouts(c, COHORT, sessions=[SESSION])
    assert not r.failures, r.failures
    from kit.kinds.base import num

    page = (artifacts.instructor_handouts_dir(c, COHORT) / f"{SESSION}.html").read_text("utf-8")
    ref = _keys(course, None)
    assert num(round(float(ref.keys["q-total"]["value"]), 6)) in page  # the reference's key
    for t in ("v01", "v02", "v03"):
        assert num(round(float(_keys(course, t).keys["q-total"]["value"]), 6)) not in page
    shared = (artifacts.handouts_dir(c, COHORT) / f"{SESSION}.html").read_text("utf-8")
    assert f"{calls_for(ref.parameters['seed'])[0]:g}" in shared  # the reference's data


def test_a_live_class_counts_each_answer_by_its_trainees_own_key(course, tmp_path):
    from kit.exchange.clients import FolderExchange
    from kit.live.server import LiveClass

    assert build(course, "p1", progress=False).ok  # the practice cohort: p01, p02
    c = load_course(course)
    mine = _keys(course, "p01", "p1").keys["q-total"]["value"]
    reference = _keys(course, None, "p1").keys["q-total"]["value"]
    room = FolderExchange(tmp_path / "room")
    room.post_live("p1", SESSION, "q-total", mine, trainee="p01")
    room.post_live("p1", SESSION, "q-total", mine, trainee="p02")  # p01's total, copied
    room.post_live("p1", SESSION, "q-channel", "12345 热线", trainee="p02")
    record = artifacts.live_class_path(c, "p1", SESSION)
    klass = LiveClass.open(c, "p1", SESSION, room)
    try:
        klass.start()
        for qid in ("q-total", "q-channel"):
            klass.act(qid, "reveal")
        total = klass.snapshot_of("q-total")["summary"]
        assert total["n"] == 2 and total["correct"] == 1  # p01 right, p02 not on their own data
        shared = klass.snapshot_of("q-channel")["summary"]  # one key for all: shown as usual
        assert shared["correct"] == 1 and "12345" in shared["key"]
        # what the practice workbooks read: no single number passes for everyone's answer
        published = json.dumps(klass.trainee_state(), ensure_ascii=False)
        for number in (mine, reference, _keys(course, "p02", "p1").keys["q-total"]["value"]):
            assert str(number) not in published
        assert "12345 热线" in published
    finally:
        klass.end()
        record.unlink(missing_ok=True)


def test_a_solution_written_as_a_number_fails_on_the_trainees_data_and_says_whose(tmp_path):
    root = write_course(tmp_path / "course")
    nb = calls_notebook()
    reference_top = max(calls_for(stable_seed("few")))
    for cell in nb.cells:  # the author typed the reference's answer in instead of computing it
        if "solution" in cell.metadata.get("tags", []):
            cell.source = f"top = {reference_top!r}"
    nbformat.write(nb, str(root / "cases/calls.ipynb"))
    d = root / "cohorts" / "few"
    d.mkdir()
    (d / "cohort.toml").write_text('name = "few 班"\n', encoding="utf-8")
    rows = "".join(f"{t},学员{t},民政局,东山镇,A\n" for t in ("f1", "f2"))
    (d / "roster.csv").write_text("id,name,department,township,group\n" + rows, "utf-8")
    (d / "schedule.csv").write_text(
        "session,notebook,date,teacher,site,method,unit,hours,mode,due,params,variants\n"
        f"{SESSION},cases/calls.ipynb,2026-05-22,f2,s1,seminar,blue,2,assessed,,{{}},trainee\n",
        encoding="utf-8",
    )
    r = run_cli("build", "few", "-C", str(root), "--lang", "en")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    said = [x for x in r.stderr.splitlines() if x.startswith("✗")]
    assert len(said) == 2, r.stderr  # the reference passed: only the two trainees' variants
    for line, trainee in zip(sorted(said), ("f1", "f2"), strict=True):
        assert f"trainee {trainee}'s own variant" in line and "q-top" in line
        assert "calls.ipynb" in line  # the notebook to fix
    c = load_course(root)
    assert artifacts.build_paths(c, "few", SESSION).keys.exists()  # the reference was kept
    assert not artifacts.build_paths(c, "few", SESSION, "f1").keys.exists()
