"""What a trainee reads when something goes wrong, and how values look, without a browser.

A file the system refuses is a sentence naming the file in the course's
language, never ``[Errno 13]`` (the workbook's hand-in and ``casekit submit``
alike); a hand-in whose exchange is out of reach says it did not arrive and
leaves the button usable; a failed save no longer says 已保存; an upload takes
photos where the author asked for ``image/*``; outputs read 是/否 and a Series
has no dtype line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from classroom import class_course  # noqa: E402

from kit.kinds.upload import accepts  # noqa: E402
from kit.problems import os_reason  # noqa: E402


@pytest.mark.parametrize(
    ("accept", "name", "mime", "ok"),
    [
        ("image/*", "IMG_0001.JPG", "image/jpeg", True),
        ("image/*", "IMG_0002.HEIC", "", True),  # an iPhone's photo, a type mimetypes may not know
        ("image/*", "笔记.pdf", "application/pdf", False),
        (".pdf,.docx,.md,image/*", "报告.docx", "", True),
        (".pdf,.docx", "现场.png", "image/png", False),
        ("", "anything.bin", "", True),
    ],
)
def test_upload_types(accept: str, name: str, mime: str, ok: bool) -> None:
    assert accepts({"accept": accept}, name, mime) is ok


def test_os_errors_are_sentences_naming_the_file() -> None:
    said = os_reason(PermissionError(13, "Permission denied", "/srv/exchange/inbox"), "zh")
    assert "/srv/exchange/inbox" in said and "没有权限" in said
    assert "Errno" not in said and "Permission" not in said
    assert "找不到" in os_reason(FileNotFoundError(2, "No such file", "a.ipynb"), "zh")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a command as another user: needs root")
def test_casekit_submit_refused_by_the_system_says_so_in_chinese(tmp_path: Path) -> None:
    """As a trainee would meet it: a workbook they may not read, in a Chinese course."""
    workbook = tmp_path / "coop.ipynb"
    workbook.write_text("{}", "utf-8")
    workbook.chmod(0o600)
    tmp_path.chmod(0o755)
    env = {**os.environ, "CASEKIT_LANG": "zh"}
    import subprocess

    r = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *_casekit()]
        + ["submit", str(workbook)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=120,
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "没有权限" in r.stderr and "coop.ipynb" in r.stderr, r.stderr
    assert "Errno" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def _casekit() -> list[str]:
    from conftest import CASEKIT

    return list(CASEKIT)


def _home_runtime(tmp_path: Path):
    """A trainee's workbook in their home, as the hub places it (no exchange folder beside it)."""
    import shutil

    from kit.workbook import AnswerStore, Runtime, release, store_path_for

    root = class_course(tmp_path / "course", trainees=2)
    assert not release(root, "c1").failures
    home = tmp_path / "home"
    home.mkdir()
    workbook = home / "coop.ipynb"
    shutil.copy(root / "exchange/c1/outbox/t01/coop.ipynb", workbook)
    header = {"trainee": "t01", "session": "coop", "cohort": "c1"}
    store = AnswerStore(store_path_for(workbook), header)
    return Runtime(store, session="coop", trainee="t01", cohort="c1", notebook=workbook)


def test_a_handin_that_cannot_reach_the_exchange_says_so(tmp_path: Path, monkeypatch) -> None:
    from kit.workbook.panel import ProgressPanel

    rt = _home_runtime(tmp_path)
    rt.store.set("q-word", "分级", "text")
    # the hub's exchange service on a port nothing listens on: the hub is down
    monkeypatch.setenv("CASEKIT_EXCHANGE_URL", "http://127.0.0.1:9/services/casekit-exchange/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "x")
    monkeypatch.delenv("CASEKIT_EXCHANGE", raising=False)
    panel = ProgressPanel(rt)
    assert panel.do_submit(confirmed=True) is None
    assert "没有送达收件处" in panel.receipt.value and "提交作业" in panel.receipt.value
    assert "Errno" not in panel.receipt.value and "exchange" not in panel.receipt.value
    assert not panel.submit_button.disabled  # they can press it again once the hub is back


def test_a_failed_save_does_not_say_saved(tmp_path: Path) -> None:
    from kit.questions import QuestionView

    rt = _home_runtime(tmp_path)
    spec = {"id": "q-word", "kind": "text", "prompt": "用一个词概括。", "points": 1}
    view = QuestionView(spec, rt)
    view.inputs["text"].value = "分级"
    assert "已保存" in view.status.value
    # the folder the answers live in is gone (a home taken away, a disk unmounted)
    rt.store.path = tmp_path / "gone" / rt.store.path.name
    view.inputs["text"].value = "派单"
    assert "已保存" not in view.status.value and "未保存" in view.status.value
    assert "Errno" not in view.message.value and "找不到" in view.message.value


def test_values_read_as_a_reader_expects() -> None:
    import numpy as np
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell

    from kit.workbook.display import install

    ip = InteractiveShell.instance()
    install(ip, "zh")
    fmt = ip.display_formatter.formatters
    assert fmt["text/plain"](True) == "是" and fmt["text/plain"](np.bool_(False)) == "否"
    series = pd.Series([12.5, 3.0], index=["超期", "退单"], name="占比")
    assert "dtype" not in fmt["text/plain"](series) and "Name:" not in fmt["text/plain"](series)
    assert "<table" in fmt["text/html"](series) and "占比" in fmt["text/html"](series)
    frame = fmt["text/html"](pd.DataFrame({"已办结": [True, False]}))
    assert ">是<" in frame and ">否<" in frame and "True" not in frame
