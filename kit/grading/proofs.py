"""The build's proof of a session's keys: the instructor's solutions, graded as a submission.

``casekit build`` runs each notebook once, top to bottom, to make its
editions.  Before it writes them it grades the instructor's own solutions
through the very judge ``grade`` uses (``kit.sandbox.supervisor.CodeGrader``: the
solution in the trainee's box, the tests and hidden tests in the judge's
box, the sandbox when the machine has one).  Every autograded point of every
code question must be earned; a test that fails refuses the session (or that
trainee's variant), naming session, question, test, cohort, variant and the
test's cell in the author's notebook.  What the solutions' names held (data,
a function, an object) is recorded in the instructor edition: grading lets an
object of the trainee's stand only where the solution's own value was one.

There is no other "does the solution pass" check: what the build proves is
what grading does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.messages import t
from kit.sandbox.boxes import SandboxUnavailable

__all__ = ["Proof", "Prover", "needs_proof", "record_shapes"]

WARM = 4  # notebooks whose templates are made ahead (the grader keeps eight pairs)


@dataclass
class Proof:
    """What grading the solutions of one built variant gave: refusals (texts) and the names' shapes."""

    refusals: list[str] = field(default_factory=list)
    shapes: dict[str, dict[str, str]] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Claim:
    """One executed variant to prove: its names, the executed instructor edition, what grading needs."""

    name: str
    session: str
    variant: str | None
    nb: Any  # the executed instructor edition
    nb_path: Path
    parameters: dict[str, Any]


def needs_proof(nb_path: Path) -> bool:
    """Whether a notebook may hold code questions (only they have autograded tests to prove)."""
    try:
        return b"ask.code" in nb_path.read_bytes()
    except OSError:
        return False


class Prover:
    """A sandboxed grader for one build, started in the background as soon as the build knows it needs one."""

    def __init__(
        self, course: Any, cohort: str, warm: list[tuple[str, Any, dict]] | None = None
    ) -> None:
        self.course = course
        self.cohort = cohort
        # (session, notebook, parameters): templates made early
        self._warm = list(warm or [])[:WARM]
        self._grader: Any = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="casekit-prover", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        """Start the grader, then live as long as it: its sandbox dies with the thread that started it."""
        self._start()
        self._prepare()
        self._stop.wait()
        if self._grader is not None:
            self._grader.close()

    def _start(self) -> None:
        from kit.grading.coderun import limits_for
        from kit.sandbox.supervisor import CodeGrader

        try:
            try:
                self._grader = CodeGrader(limits=limits_for(self.course))
            except SandboxUnavailable:
                # the solutions are the instructor's own code: without a sandbox the same
                # two-box protocol runs them unconfined, as the build ran them already
                self._grader = CodeGrader(limits=limits_for(self.course), unsafe=True)
        except BaseException as e:  # noqa: BLE001 - reported with each claim
            self._error = e
        finally:
            self._ready.set()

    def _prepare(self) -> None:
        """The proofs' templates, made while the build runs the notebooks (the same plan: reused)."""
        from kit.grading.coderun import session_files

        for session, nb, parameters in self._warm:
            if self._grader is None or self._stop.is_set():
                return
            try:
                files = session_files(self.course, self.cohort, session)
                self._grader.prepare(nb, parameters=parameters, files=files)
            except Exception:  # noqa: BLE001 - the proof itself will make them, or say why not
                pass

    def prove(self, claims: list[Claim]) -> dict[str, Proof]:
        """Grade each claim's solutions; one ``Proof`` per claim name (claims without code tests pass)."""
        todo = [(c, _expected(c.nb)) for c in claims]
        todo = [(c, e) for c, e in todo if e]
        if not todo:
            return {}
        self._ready.wait()
        if self._grader is None:
            why = f"{type(self._error).__name__}: {self._error}"
            return {
                c.name: Proof([t("build.proof_failed", cohort=self.cohort, error=why)])
                for c, _ in todo
            }
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = pool.map(lambda ce: self._prove_one(*ce), todo)
            return {c.name: proof for (c, _), proof in zip(todo, done, strict=True)}

    def _prove_one(self, claim: Claim, expected: list[dict[str, Any]]) -> Proof:
        from kit.grading.coderun import session_files

        run = self._grader.prove(
            claim.nb,
            expected,
            parameters=claim.parameters,
            files=session_files(self.course, self.cohort, claim.session),
        )
        causes = "; ".join(f.detail for f in run.failures if f.detail)
        by_name = {(e["question"], e["name"]): e for e in expected}
        refusals = []
        for verdict in run.tests:
            if verdict["passed"]:
                continue
            test = by_name.get((verdict["question"], verdict["name"]), {})
            refusals.append(
                t(
                    "build.solution_fails"
                    if claim.variant is None
                    else "build.solution_fails_variant",
                    session=claim.session,
                    question=verdict["question"],
                    test=verdict["name"],
                    cohort=self.cohort,
                    trainee=claim.variant,
                    where=_authored_cell(claim.nb, test.get("cell"), claim.nb_path),
                    message=verdict["message"] or causes or verdict["outcome"],
                )
            )
        return Proof(refusals, run.shapes or {}, run.seconds)

    def close(self) -> None:
        """Stop the grader (and its sandbox)."""
        self._stop.set()
        self._thread.join()


def _expected(nb: Any) -> list[dict[str, Any]]:
    """The tests of code questions, as the keys file will list them (what grading expects)."""
    from kit import kinds
    from kit import notebooks as nbs

    rec = nbs.records(nb)
    code = {spec.get("id") for spec in rec["questions"] if kinds.find(spec.get("kind")).tested}
    return [dict(test) for test in rec["tests"] if test.get("question") in code]


def _authored_cell(nb: Any, index: Any, nb_path: Path) -> str:
    """The cell's number in the author's own notebook (the build adds cells of its own)."""
    from kit import notebooks as nbs

    if type(index) is not int or not 0 <= index < len(nb.cells):
        return t("build.added_cell")
    cell_id = nb.cells[index].get("id")
    authored, _ = nbs.read_notebook(nb_path)
    for i, cell in enumerate(authored.cells if authored else []):
        if cell_id and cell.get("id") == cell_id:
            return t("where.cell", n=i + 1)
    return t("build.added_cell")


def record_shapes(nb: Any, shapes: dict[str, dict[str, str]]) -> None:
    """Write what each solution's names held into its answer cell of the instructor edition."""
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("casekit") or {}
        if meta.get("role") == "answer" and meta.get("question") in shapes:
            meta["shapes"] = dict(shapes[meta["question"]])
