"""The gradebook itself, on SQLite and PostgreSQL: submissions, current choice, replace-on-write, queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest_pg import DB_PARAMS, make_db_url, pg_server  # noqa: F401 - fixture

from kit.gradebook import Gradebook, resolve_url


@pytest.fixture(params=DB_PARAMS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(request, tmp_path)


T0 = datetime(2026, 3, 1, 12, 0)


def _add(gb: Gradebook, trainee: str, sha: str, minutes: int):
    return gb.add_submission(
        cohort="c1", session="s1", trainee=trainee, sha256=sha, path=f"p/{sha}",
        received_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def test_submissions_current_and_pick(db_url: str) -> None:
    with Gradebook(db_url) as gb:
        a, new_a = _add(gb, "t1", "a" * 64, 0)
        b, new_b = _add(gb, "t1", "b" * 64, 5)
        again, new_again = _add(gb, "t1", "a" * 64, 9)
        assert (new_a, new_b, new_again) == (True, True, False) and again.id == a.id
        assert [s.id for s in gb.current_submissions("c1")] == [b.id]
        gb.pick(a.id)  # the instructor's choice wins over "latest"
        c, _ = _add(gb, "t1", "c" * 64, 10)
        assert [s.id for s in gb.current_submissions("c1")] == [a.id]
        assert len(gb.submissions("c1")) == 3


def test_write_grading_replaces_and_queries(db_url: str) -> None:
    with Gradebook(db_url) as gb:
        sub, _ = _add(gb, "t1", "a" * 64, 0)
        payload = {
            "grade": {"status": "needs-marking", "auto_points": 1.0, "max_points": 6.0,
                      "days_late": 1, "penalty": 0.1, "fingerprint": "x"},
            "results": [
                {"question": "q1", "position": 0, "kind": "choice", "unit": "green", "points": 1.0,
                 "max_points": 1.0, "status": "correct", "manual": False, "answer": '"乙"'},
                {"question": "q2", "position": 1, "kind": "essay", "unit": "gold", "points": 0.0,
                 "max_points": 5.0, "status": "needs-marking", "manual": True, "answer": '"文"'},
            ],
            "tests": [],
            "flags": [{"code": "locked-changed", "where": "cell 1", "message": "m"}],
        }  # fmt: skip
        gb.write_grading(sub.id, **payload)
        gb.write_grading(sub.id, **payload)  # a rerun replaces, never duplicates
        assert len(gb.flags("c1")) == 1
        s = gb.submission_scores("c1").iloc[0]
        assert (s["status"], s["raw_points"], s["open_items"]) == ("needs-marking", 1.0, 1)
        gb.write_marks(
            cohort="c1", session="s1", trainees=["t1"], question="q2",
            rows=[{"criterion": "", "checked": True, "points": 4.0, "comment": "ok"}],
        )  # fmt: skip
        s = gb.submission_scores("c1").iloc[0]
        assert (s["status"], s["raw_points"]) == ("graded", 5.0)
        assert s["points"] == pytest.approx(4.5)  # 10 % late penalty
        units = gb.per_unit("c1").set_index("unit")
        assert units.loc["gold", "points"] == pytest.approx(3.6)
        assert gb.per_question("c1").set_index("question").loc["q2", "mean"] == 4.0
        assert gb.per_trainee("c1").iloc[0]["points"] == pytest.approx(4.5)
        assert gb.per_session("c1").iloc[0]["graded"] == 1


def test_empty_gradebook_queries(db_url: str) -> None:
    with Gradebook(db_url) as gb:
        assert gb.submission_scores("c1").empty
        assert gb.per_unit("c1").empty and gb.per_question("c1").empty
        assert gb.per_session("c1").empty and gb.per_trainee("c1").empty


def test_resolve_url(tmp_path: Path) -> None:
    (tmp_path / "course.toml").write_text('[programme]\nname = "x"\n')
    assert resolve_url(tmp_path) == f"sqlite:///{(tmp_path / 'gradebook.sqlite').resolve()}"
    assert resolve_url(tmp_path, "postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    (tmp_path / "course.toml").write_text('[gradebook]\nurl = "postgres://u@h/x"\n')
    assert resolve_url(tmp_path) == "postgresql+psycopg://u@h/x"


def test_a_gradebook_without_typed_test_outcomes_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    with Gradebook(f"sqlite:///{path}") as gb:
        sub, _ = _add(gb, "t1", "a" * 64, 0)
        sub_id = sub.id
    con = sqlite3.connect(path)  # as a casekit before test_results.outcome left it
    con.execute("ALTER TABLE test_results DROP COLUMN outcome")
    con.execute("UPDATE casekit_meta SET value = '2' WHERE key = 'schema'")
    con.execute(
        "INSERT INTO test_results (submission_id, question, name, hidden, passed, points,"
        " max_points, message) VALUES (?, 'q1', 'small', 0, 0, 0, 1, 'did not run')",
        (sub_id,),
    )
    con.commit()
    con.close()
    with Gradebook(f"sqlite:///{path}") as gb:
        tests = gb.tests("c1")
    assert tests[["name", "message", "outcome"]].values.tolist() == [["small", "did not run", ""]]
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM casekit_meta WHERE key = 'schema'").fetchone() == ("3",)
    con.close()
