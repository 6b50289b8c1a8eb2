"""``try``: grade a set of answers exactly as a trainee's submission would be, before class.

An author writes answers in a file (question id → answer; JSON, YAML or TOML)
and gets the score of every question, the tests (hidden ones too) and the
feedback page a trainee would read. Nothing of the course's real state is
touched: the answers go through the workbook runtime into a workbook released
to a throwaway exchange, are handed in with ``submit``, taken in with
``collect``, graded with ``grade`` into a throwaway gradebook and rendered by
``feedback`` — the very functions a real submission passes through — in a
temporary folder that sees the course files and the cohort's build read-only.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kit import artifacts, kinds
from kit.course import Course, as_course
from kit.kinds.base import QuestionSpec
from kit.messages import t
from kit.problems import CourseError, Outcome, Problem


@dataclasses.dataclass
class TryResult(Outcome):
    """The scores trial answers get: per question, per test, in total, and the feedback page."""

    cohort: str = ""
    session: str = ""
    trainee: str = ""
    questions: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    points: float = 0.0
    max_points: float = 0.0
    page: Path | None = None


def read_answers(path: Path | str) -> dict[str, Any]:
    """Answers by question id from a ``.json``, ``.yaml``/``.yml`` or ``.toml`` file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml", ".toml"):
        raise CourseError.at(path, t("try.format"), t("try.format_fix"))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseError.at(path, t("course.file_missing"), t("try.format_fix")) from None
    except UnicodeDecodeError:
        raise CourseError.at(path, t("course.not_utf8"), t("course.save_utf8")) from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except json.JSONDecodeError as e:
        where = t("where.line", n=e.lineno)
        raise CourseError.at(path, t("try.syntax", error=e.msg), where=where) from None
    except tomllib.TOMLDecodeError as e:
        raise CourseError.at(path, t("try.syntax", error=e)) from None
    except Exception as e:  # noqa: BLE001 - yaml.YAMLError and its kin: the author's file to fix
        mark = getattr(e, "problem_mark", None)
        where = t("where.line", n=mark.line + 1) if mark is not None else ""
        raise CourseError.at(path, t("try.syntax", error=e), where=where) from None
    if not isinstance(data, dict):
        raise CourseError.at(path, t("try.not_mapping"), t("try.format_fix"))
    return data


def _checked(
    values: dict[str, Any], specs: dict[str, QuestionSpec], source: str, base: Path
) -> dict[str, Any]:
    """The answers, each checked against its question; every problem at once, located by id."""
    problems, out = [], {}
    known = ", ".join(specs)
    for qid, value in values.items():
        qid = str(qid)
        spec = specs.get(qid)
        if spec is None:
            fix = t("try.unknown_question_fix", known=known)
            problems.append(Problem(source, field=qid, message=t("try.unknown_question"), fix=fix))
            continue
        kind = kinds.find(spec.get("kind"))
        if kind.files and value is not None:
            file = base / str(value)
            if not file.is_file():
                problems.append(
                    Problem(
                        source,
                        field=qid,
                        message=t("try.no_file", file=file),
                        fix=t("try.file_fix"),
                    )
                )
                continue
            out[qid] = file
            continue
        value = kind.read(spec, value)  # as people type it: ８１.０, 81.0%, 1,200
        why = kind.valid(spec, value)
        if why:
            problems.append(
                Problem(
                    source, field=qid, message=t(why), fix=t("try.kind_fix", kind=spec.get("kind"))
                )
            )
            continue
        out[qid] = value
    if problems:
        raise CourseError(problems)
    return out


def _throwaway(course: Course, cohort: str, root: Path) -> Course:
    """The course as seen from `root`: its files linked read-only, everything written kept there."""
    # everything casekit writes stays out: the throwaway course writes its own
    for entry in course.root.iterdir():
        if not artifacts.written_by_casekit(entry.name):
            (root / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    for source in artifacts.build_sources(course, cohort):  # editions, keys, trainees' variants
        if source.exists():
            mine = root / source.relative_to(course.root)
            mine.parent.mkdir(parents=True, exist_ok=True)
            mine.symlink_to(source.resolve(), target_is_directory=True)
    # the exchange (which may be an absolute path) and the gradebook URL are this folder's own
    config = course.config.model_copy(
        update={
            "exchange": str(root / "exchange"),
            "gradebook": course.config.gradebook.model_copy(update={"url": None}),
        }
    )
    return dataclasses.replace(course, root=root, config=config)


def try_answers(
    course: Course | Path | str,
    cohort: str,
    session: str,
    answers: Path | str | dict[str, Any],
    *,
    trainee: str | None = None,
    out: Path | str | None = None,
    unsafe: bool = False,
) -> TryResult:
    """Grade `answers` to a built session as a submission would be; write the feedback page.

    ``answers`` is a file (see :func:`read_answers`) or a dict, question id →
    answer (for a code question its code as text, for an upload the path of
    the file, relative to the answers file). The workbook is released to
    ``trainee`` (default: the roster's first; their own variant where the
    session gives each trainee one) and handed in on time. The page
    goes to ``out`` (default ``build/<cohort>/try/<session>.html``); the
    course's store, exchange and gradebook are not touched. Code answers run
    in the sandbox, as in ``grade`` (``unsafe=True``: without it).
    """
    from kit.gradebook import Gradebook
    from kit.grading import collect, feedback, grade

    c = as_course(course)
    co = c.cohort(cohort)
    co.session(session)
    trainee = trainee or str(co.roster.index[0])
    if trainee not in co.roster.index:
        raise CourseError.at(
            co.folder / "roster.csv", t("collect.unknown_trainee", trainee=trainee)
        )
    # the trainee's own variant where the session gives each one: their keys decide
    paths = artifacts.build_paths(c, cohort, session, trainee)
    if not paths.keys.exists() or not paths.trainee.exists():
        raise CourseError.at(
            paths.keys, t("try.not_built"), t("try.not_built_fix", cohort=cohort, session=session)
        )
    keys, _ = artifacts.read_keys(paths.keys)
    specs = keys.specs()
    if isinstance(answers, dict):
        values = _checked(answers, specs, "answers", Path.cwd())
    else:
        values = _checked(read_answers(answers), specs, str(answers), Path(answers).parent)
    result = TryResult(cohort=cohort, session=session, trainee=trainee)
    with tempfile.TemporaryDirectory(prefix="casekit-try-") as tmp:
        trial = _throwaway(c, cohort, Path(tmp))
        db = f"sqlite:///{Path(tmp) / 'gradebook.sqlite'}"
        _hand_in(trial, cohort, session, trainee, values, specs, paths.trainee)
        collect(trial, cohort, db=db)
        graded = grade(trial, cohort, session, db=db, progress=False, workers=1, unsafe=unsafe)
        if graded.failures:
            raise CourseError.at(paths.keys, str(graded.failures[0]))
        pages = feedback(trial, cohort, db=db, session=session)
        with Gradebook.open(trial.root, db) as gb:
            qs = gb.question_scores(cohort, session)
            tests = gb.tests(cohort, session)
            scores = gb.submission_scores(cohort, session)
        target = Path(out) if out else artifacts.try_page_path(c, cohort, session)
        target.parent.mkdir(parents=True, exist_ok=True)
        if pages.written:
            shutil.copyfile(pages.written[0], target)
            result.page = target
            result.written.append(target)
        result.failures += pages.failures
    cols = ["question", "kind", "points", "max_points", "status", "detail"]
    result.questions = qs[cols].to_dict("records")
    cols = ["question", "name", "hidden", "passed", "points", "max_points", "message"]
    result.tests = tests[cols].to_dict("records") if len(tests) else []
    result.points = float(scores["points"].sum())
    result.max_points = float(scores["max_points"].sum())
    return result


def _hand_in(
    trial: Course,
    cohort: str,
    session: str,
    trainee: str,
    values: dict[str, Any],
    specs: dict[str, Any],
    edition: Path,
) -> None:
    """Do in the throwaway course what `trainee` would: open the released workbook, answer, hand in on time.

    `edition` is the course's trainee edition, named when it cannot be released.
    """
    from kit import workbook

    released = workbook.release(trial, cohort, sessions=[session], trainees=[trainee])
    if released.failures:
        raise CourseError.at(edition, str(released.failures[0]))
    wb = artifacts.outbox_path(trial.exchange_dir, cohort, trainee, session)
    rt = workbook.open_workbook(
        session,
        trainee=trainee,
        cohort=cohort,
        exchange=trial.exchange_dir,
        language=trial.language,
        store=artifacts.answers_path(wb),
    )
    try:
        for qid, value in values.items():
            kind = specs[qid]["kind"]
            if isinstance(value, Path):
                value = rt.save_file(qid, value.name, value.read_bytes())
            rt.save(qid, value, kind)
    finally:
        workbook.close_workbook()
    receipt = workbook.submit(wb)
    if receipt.folder is not None:
        _on_time(receipt.folder / artifacts.RECEIPT, trial.due_at(cohort, session), trial.root)


def _on_time(path: Path, due: datetime | None, root: Path) -> None:
    """Make a trial hand-in on time: the trial is of the answers, not of the clock.

    The throwaway exchange signed the receipt with the throwaway course's
    secret; a new time needs a new signature, or collect trusts the arrival
    time instead (after the due time, hence late).
    """
    from kit.exchange.trust import course_secret, receipt_is_signed, sign_receipt

    receipt = artifacts.Receipt.parse(path.read_bytes())
    if due is None or receipt is None:
        return
    received = receipt.received()
    if received is not None and received > due:
        doc = receipt.as_dict()
        secret = course_secret(root, create=False)
        signed = receipt_is_signed(secret, doc)
        doc["received_at"] = (due - timedelta(minutes=1)).astimezone(UTC).isoformat()
        if secret is not None and signed:
            doc = sign_receipt(secret, doc)
        path.write_bytes(artifacts.Receipt.model_validate(doc).to_bytes())


__all__ = ["TryResult", "read_answers", "try_answers"]
