"""A small class for the live view and marking tests: a built course, trainees, answers.

Answers go through the same path a workbook uses (`kit.workbook.Runtime` over
the trainee's `AnswerStore`), hand-ins through `submit` and `collect`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from conftest import _code, case_notebook, write_course

# Four points trainees make about a 12345 hotline backlog, five wordings each
# (written for the tests), and two answers that belong to no group.
TRIAGE = [
    "先对积压工单分级分类，紧急的优先派单处理。",
    "按照紧急程度对工单分级，分类派单给责任部门。",
    "工单要分级分类处置，急事先办，按类别派给对应部门。",
    "建立分级派单机制：紧急工单优先，一般工单按类别分派。",
    "把积压的工单按轻重缓急分类，分级派单。",
]
STAFF = [
    "增加接线员人手，安排加班集中清理积压。",
    "临时抽调人员，增加人手，周末加班清理。",
    "人手不够就增派人员，组织加班突击清理积压工单。",
    "从其他科室抽调人手支援，安排加班。",
    "增加坐席人员并加班加点，尽快清理。",
]
CALLBACK = [
    "办结后要回访群众，了解满意度。",
    "每一件都电话回访市民，听取对办理结果是否满意。",
    "做好回访工作，群众不满意的重新办理。",
    "办理完成后逐一回访，满意度低的要二次办理。",
    "通过回访了解群众满意度，不满意就重办。",
]
ACCOUNT = [
    "建立考核问责制度，超期不办的部门要通报问责。",
    "把工单办理时限纳入部门考核，超期的通报批评并问责。",
    "对超期工单实行问责，纳入年度考核。",
    "严格考核，超时办理的单位通报、问责。",
    "完善考核机制，对拖延办理的部门问责通报。",
]
LONERS = ["我不知道。", "加强党建引领，提高政治站位。"]
POINTS = [TRIAGE, STAFF, CALLBACK, ACCOUNT]

ESSAY = (
    'ask.essay("q-plan", "你会如何处置积压的热线工单？", rubric=['
    '{"id": "clarity", "text": "思路清楚", "points": 2}, '
    '{"id": "measures", "text": "措施可行", "points": 2}])'
)


def trainee_ids(n: int) -> list[str]:
    return [f"t{i:02d}" for i in range(1, n + 1)]


def write_roster(root: Path, cohort: str, n: int) -> None:
    """A roster of `n` trainees in groups of four."""
    rows = ["id,name,department,township,group"]
    for i, t in enumerate(trainee_ids(n)):
        rows.append(f"{t},学员{i + 1},民政局,东山镇,G{i // 4 + 1}")
    (root / "cohorts" / cohort / "roster.csv").write_text("\n".join(rows) + "\n", "utf-8")


#: a live class's questions: every kind the live view draws, with keys
LIVE_CELLS = [
    'ask.choice("q-kind", "诉求 A 应归入哪一类？", ["咨询", "求助", "投诉"])',
    ('key("q-kind", "求助")', "key"),
    'ask.multi("q-urgent", "哪些工单需要当天处置？", ["停水", "噪音", "供暖中断", "路灯不亮"])',
    ('key("q-urgent", ["停水", "供暖中断"])', "key"),
    'ask.ranking("q-order", "处置一件工单的顺序", ["核实诉求", "分级派单", "回访群众"])',
    ('key("q-order", ["核实诉求", "分级派单", "回访群众"])', "key"),
    'ask.rating("q-eval", "这一环节对你有帮助吗？")',
    ESSAY,
]


def class_course(
    root: Path, *cells: str | tuple[str, str], trainees: int = 12, mode: str = "assessed"
) -> Path:
    """The small spine course with extra cells and `trainees` trainees, built for c1.

    A cell is its source, or (source, tag) for a tagged cell such as a key.
    """
    from kit.builder import build

    write_course(root, cohorts={"c1": 0.05})
    write_roster(root, "c1", trainees)
    if mode != "assessed":
        sched = root / "cohorts/c1/schedule.csv"
        sched.write_text(sched.read_text("utf-8").replace(",assessed,", f",{mode},"), "utf-8")
    nb = case_notebook()
    nb.cells += [_code(c) if isinstance(c, str) else _code(*c) for c in cells]
    nbformat.write(nb, str(root / "cases/coop.ipynb"))
    res = build(root, "c1", progress=False)
    assert not res.failures, res.failures
    return root


def runtime_of(
    root: Path,
    trainee: str,
    session: str = "coop",
    *,
    cohort: str = "c1",
    mode: str = "assessed",
    exchange=None,
):
    """The workbook runtime of a released workbook, as its setup cell opens it (no kernel)."""
    from kit.workbook import AnswerStore, Runtime, store_path_for

    workbook = root / f"exchange/{cohort}/outbox/{trainee}/{session}.ipynb"
    exchange = exchange or root / "exchange"
    header = {"trainee": trainee, "session": session, "cohort": cohort, "exchange": str(exchange)}
    store = AnswerStore(store_path_for(workbook), header)
    return Runtime(
        store, session=session, trainee=trainee, cohort=cohort, exchange=exchange, mode=mode
    )


def spec_of(root: Path, qid: str, session: str = "coop", cohort: str = "c1") -> dict:
    """A question's spec as the build recorded it (what a workbook's widget is made from)."""
    import json

    path = root / f"build/{cohort}/instructor/{session}.keys.json"
    return next(q for q in json.loads(path.read_text("utf-8"))["questions"] if q["id"] == qid)


def live_url(line: str) -> str:
    """The page's address in the line `casekit live` prints first (in the course's language)."""
    import re

    found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
    assert found, line
    return found.group(0)


def wait_for(cond, timeout: float = 30, what: str = "condition"):
    """Poll `cond` until it is truthy; its value, or AssertionError naming `what`."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def hand_in_all(root: Path, answers: dict[str, dict[str, tuple]]) -> None:
    """Release, answer through each trainee's runtime, submit, collect and grade."""
    from kit.grading import collect, grade
    from kit.workbook import release, submit

    assert not release(root, "c1", trainees=sorted(answers)).failures
    for trainee, given in answers.items():
        rt = runtime_of(root, trainee)
        for qid, (value, kind) in given.items():
            rt.save(qid, value, kind)
        submit(root / f"exchange/c1/outbox/{trainee}/coop.ipynb")
    assert not collect(root, "c1").failures
    assert not grade(root, "c1", progress=False).failures


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A real JupyterLab on loopback serving `folder` (a trainee's), for Chromium tests."""

    def __init__(self, folder: Path, scratch: Path):
        self.folder, self.scratch = folder, scratch
        self.port, self.proc = free_port(), None
        import secrets

        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> JupyterLab:
        import os
        import subprocess
        import sys
        from urllib.request import urlopen

        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.scratch / "jcfg"),
            "JUPYTER_RUNTIME_DIR": str(self.scratch / "jrun"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.scratch / "jsettings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.scratch / "jws"),
        }
        env.pop("CASEKIT_MODE", None)
        cmd = [
            str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root",
            f"--ServerApp.token={self.token}", f"--port={self.port}", "--ip=127.0.0.1",
            f"--ServerApp.root_dir={self.folder}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        self.log = open(self.scratch / "jupyter.log", "wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.folder, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

        def up() -> bool:
            try:
                return (
                    urlopen(f"{self.base}/api/status?token={self.token}", timeout=2).status == 200
                )
            except OSError:
                return False

        wait_for(up, 90, "JupyterLab to start")
        return self

    def __exit__(self, *exc) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
