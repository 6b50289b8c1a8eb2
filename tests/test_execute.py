"""The executor, with real forked children, real papermill and a real kernel."""

from __future__ import annotations

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kit.execution.executor import Job, run_many, run_notebook

KERNELSPEC = {"name": "python3", "language": "python", "display_name": "Python 3"}


def notebook(*cells) -> nbformat.NotebookNode:
    """Code cells from strings; (source, tags) tuples carry tags; markdown via new_markdown_cell."""
    out = []
    for c in cells:
        if isinstance(c, tuple):
            out.append(new_code_cell(c[0], metadata={"tags": list(c[1])}))
        elif isinstance(c, str):
            out.append(new_code_cell(c))
        else:
            out.append(c)
    return new_notebook(cells=out, metadata={"kernelspec": KERNELSPEC})


def texts(cell) -> str:
    """All stream text and text/plain of a cell, joined."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o and "text/plain" in o.data:
            parts.append(o.data["text/plain"])
    return "".join(parts)


RICH = notebook(
    new_markdown_cell("# Exhibit"),
    "print('hello')\nimport sys\nprint('careful', file=sys.stderr)",
    "import pandas as pd\ndisplay(pd.DataFrame({'county': ['Lishi', 'Xiaoyi'], 'n': [3, 4]}))",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t');",
    "class Q:\n"
    "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
    "        return {'application/vnd.casekit.question+json': {'id': 'q1', 'kind': 'choice'},\n"
    "                'text/html': '<b>q1</b>', 'text/plain': 'Q(q1)'}\n"
    "Q()",
    "import ipywidgets as w\ns = w.IntSlider(value=3)\ndisplay(s)\ns.value = 7\ns.value",
)


def test_rich_outputs_are_recorded():
    res = run_notebook(RICH)
    assert res.ok, (res.error, res.failure)
    nbformat.validate(res.nb)
    cells = res.nb.cells
    assert [c.execution_count for c in cells[1:]] == [1, 2, 3, 4, 5]
    streams = {o.name: o.text for o in cells[1].outputs}
    assert streams == {"stdout": "hello\n", "stderr": "careful\n"}
    html = cells[2].outputs[0]
    assert html.output_type == "display_data" and "<table" in html.data["text/html"]
    assert "Lishi" in html.data["text/html"]
    pngs = [o for o in cells[3].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1 and pngs[0].output_type == "display_data"
    bundle = cells[4].outputs[0]
    assert bundle.output_type == "execute_result" and bundle.execution_count == 4
    assert bundle.data["application/vnd.casekit.question+json"] == {"id": "q1", "kind": "choice"}
    assert bundle.data["text/html"] == "<b>q1</b>"
    widget_cell = cells[5]
    assert "application/vnd.jupyter.widget-view+json" in widget_cell.outputs[0].data
    assert widget_cell.outputs[-1].data["text/plain"] == "7"
    state = res.nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["state"].get("value") == 7 for m in state.values())
    assert res.nb.metadata.language_info.name == "python"


def test_parameters_are_injected_papermill_style():
    nb = notebook(("cohort = 'x'\nn = 1", ["parameters"]), "print(cohort, n * 2)")
    res = run_notebook(nb, {"cohort": "2024-秋", "n": 21})
    assert res.ok
    tags = [c.metadata.get("tags", []) for c in res.nb.cells]
    assert tags[:2] == [["parameters"], ["injected-parameters"]]
    assert texts(res.nb.cells[2]) == "2024-秋 42\n"
    assert res.nb.metadata.papermill.parameters == {"cohort": "2024-秋", "n": 21}
    nbformat.validate(res.nb)


def test_error_stops_execution_and_names_the_cell():
    nb = notebook(
        "x = 1", ("raise ValueError('tolerated')", ["raises-exception"]), "1/0", "print('never')"
    )
    res = run_notebook(nb)
    assert res.error is not None and res.failure is None
    assert (res.error.cell_index, res.error.ename) == (2, "ZeroDivisionError")
    assert "\x1b[" not in res.error.traceback and "1/0" in res.error.traceback
    assert res.nb.cells[3].outputs == [] and res.nb.cells[3].execution_count is None
    assert res.nb.cells[1].outputs[0].ename == "ValueError"
    assert res.nb.cells[2].metadata.papermill.status == "failed"
    nbformat.validate(res.nb)

    go_on = run_notebook(nb, stop_on_error=False)
    assert texts(go_on.nb.cells[3]) == "never\n"
    assert [e.cell_index for e in go_on.errors] == [2]


def test_a_cell_hiding_its_traceback_still_fails():
    nb = notebook(
        "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "ip._showtraceback = lambda *a, **k: None",
        "assert False, 'hidden?'",
    )
    res = run_notebook(nb)
    assert res.error is not None and res.error.ename == "AssertionError"
    assert res.error.cell_index == 1


def test_infinite_loop_hits_the_cell_timeout():
    nb = notebook("print('before')", "while True:\n    pass", "print('after')")
    res = run_notebook(nb, cell_timeout=0.5)
    assert res.error.ename == "CellTimeoutError" and res.error.cell_index == 1
    assert "cell 1" in res.error.evalue
    assert res.nb.cells[2].outputs == []


def test_notebook_timeout_kills_the_child():
    res = run_notebook(
        notebook("import time\ntime.sleep(60)"), cell_timeout=0, notebook_timeout=0.5
    )
    assert res.failure and "notebook timeout" in res.failure
    assert res.error is not None and res.error.cell_index == 0


def test_memory_hog_is_bounded():
    nb = notebook("import numpy as np\nbig = np.ones(2_000_000_000)", "print('after')")
    res = run_notebook(nb, memory_mb=300)
    assert (res.error and res.error.ename == "MemoryError") or res.failure


def test_dead_child_is_reported_and_the_batch_goes_on():
    seen = []
    jobs = [
        Job("good-1", notebook("print(1)")),
        Job("exit", notebook("print('bye')", "import os\nos._exit(3)", "print('no')")),
        Job("segv", notebook("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")),
        Job("good-2", notebook("print(2)")),
    ]
    res = run_many(jobs, workers=2, progress=lambda done, total, name: seen.append((done, total)))
    assert [r.name for r in res] == ["good-1", "exit", "segv", "good-2"]
    assert res[0].ok and res[3].ok and texts(res[3].nb.cells[0]) == "2\n"
    assert "exited with code 3" in res[1].failure and "cell 1" in res[1].failure
    assert texts(res[1].nb.cells[0]) == "bye\n"
    assert "SIGSEGV" in res[2].failure
    assert sorted(seen) == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_notebooks_are_isolated_from_each_other():
    first = notebook(
        "import json\njson.LEAKED = 'yes'\nSECRET = 42\nimport os\nos.environ['LEAK'] = '1'"
    )
    second = notebook(
        "import json, os\nprint(hasattr(json, 'LEAKED'), 'SECRET' in globals(), 'LEAK' in os.environ)"
    )
    res = run_many([Job("a", first), Job("b", second)], workers=1, progress=False)
    assert res[0].ok and texts(res[1].nb.cells[0]) == "False False False\n"


def test_mode_env_and_cwd(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    nb = notebook(
        "import os\nprint(os.environ['CASEKIT_MODE'], os.environ['EXTRA'], open('data.csv').read().split()[1])"
    )
    res = run_notebook(nb, cwd=tmp_path, mode="grade", env={"EXTRA": "e"})
    assert texts(res.nb.cells[0]) == "grade e 1\n"


def test_papermill_engine_matches_the_default_engine(tmp_path):
    nb = notebook(
        ("a = 1", ["parameters"]),
        new_markdown_cell("text"),
        "print(a * 2)\nimport pandas as pd\ndisplay(pd.DataFrame({'x': [a]}))\na + 1",
        "import sys\nprint('w', file=sys.stderr)\n[i * a for i in range(3)]",
    )
    src = tmp_path / "in.ipynb"
    nbformat.write(nb, src)
    runs = {}
    for engine in ("casekit", None):
        out = tmp_path / f"out-{engine}.ipynb"
        runs[engine] = papermill.execute_notebook(
            str(src), str(out), parameters={"a": 5}, engine_name=engine, progress_bar=False
        )
        nbformat.validate(nbformat.read(out, as_version=4))
    ours, theirs = runs["casekit"], runs[None]
    assert [c.metadata.tags for c in ours.cells] == [c.metadata.tags for c in theirs.cells]
    assert [texts(c) for c in ours.cells if c.cell_type == "code"] == [
        texts(c) for c in theirs.cells if c.cell_type == "code"
    ]
    assert [c.get("execution_count") for c in ours.cells] == [
        c.get("execution_count") for c in theirs.cells
    ]
    assert ours.metadata.papermill.parameters == {"a": 5}

    nb.cells.append(new_code_cell("raise KeyError('k')"))
    nbformat.write(nb, src)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(src), None, engine_name="casekit", progress_bar=False)
    assert info.value.ename == "KeyError"


def test_kernel_engine_fallback():
    nb = notebook(
        ("n = 1", ["parameters"]), "import os\nprint(n, os.environ['CASEKIT_MODE'])", "1/0"
    )
    res = run_notebook(nb, {"n": 3}, engine="kernel", mode="grade")
    assert texts(res.nb.cells[2]) == "3 grade\n"
    assert res.error.cell_index == 3 and res.error.ename == "ZeroDivisionError"


def test_dask_cluster():
    import distributed  # a core dependency: no skip

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        jobs = [Job(f"n{i}", notebook(f"print({i} * 10)")) for i in range(3)]
        jobs.append(Job("bad", notebook("1/0")))
        res = run_many(jobs, progress=False, cluster=cluster.scheduler_address)
    assert [texts(r.nb.cells[0]) for r in res[:3]] == ["0\n", "10\n", "20\n"]
    assert res[3].error.ename == "ZeroDivisionError"
