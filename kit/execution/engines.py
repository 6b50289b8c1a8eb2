"""casekit's executor as a papermill engine (``papermill --engine casekit``).

papermill's API and parameters, casekit's warm forked executor (`kit.execution.executor`).
Registered through the ``papermill.engine`` entry point in pyproject.toml.
"""

from __future__ import annotations

from typing import Any

# papermill loads its engines' entry points while it is being imported, and ours
# names ``kit.execution.engines:CasekitEngine``: importing papermill at the top of this module
# made the first import of it in a process (before papermill) import
# papermill half-way through this module, whose entry point then found no
# CasekitEngine, and the engine silently lost papermill's base class.  So the class
# is built on first access, when papermill's Engine exists.


def _make_engine() -> type:
    from papermill.engines import Engine

    from kit.execution.executor import run_notebook

    class CasekitEngine(Engine):
        """papermill engine ``casekit``: papermill's API and parameters, casekit's executor.

        ``papermill.execute_notebook(inp, out, parameters=..., engine_name="casekit")``
        parameterises as usual; this engine then runs the notebook in a forked warm
        child and reports each cell through papermill's NotebookExecutionManager
        (so output saving, progress and papermill metadata behave as with nbclient).
        ``execution_timeout`` maps to the cell timeout; ``notebook_timeout``,
        ``memory_mb``, ``mode`` and ``env`` may be passed as engine kwargs.
        """

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            notebook_timeout=600,
            memory_mb=2048,
            mode="build",
            env=None,
            **kwargs,
        ):
            """Run ``nb_man.nb`` and fill in outputs, calling the manager's cell hooks."""
            nb = nb_man.nb

            def on_cell(event, index, cell):
                if event == "start":
                    nb_man.cell_start(cell, index)
                    return
                if event == "error":
                    nb_man.cell_exception(cell, index)
                for out in cell.outputs:
                    if out.output_type == "stream":
                        target = stdout_file if out.name == "stdout" else stderr_file
                        if target is not None:
                            target.write(out.text)
                            target.flush()
                nb_man.cell_complete(cell, index)

            # The manager already reset outputs and papermill metadata; keep its timestamps.
            for cell in nb.cells:
                cell.metadata.setdefault("papermill", {})
            res = run_notebook(
                nb,
                None,
                cwd=None,  # papermill has already chdir-ed to its cwd
                cell_timeout=execution_timeout or kwargs.get("timeout") or 0,
                notebook_timeout=notebook_timeout,
                memory_mb=memory_mb,
                env=env,
                mode=mode,
                stop_on_error=not kwargs.get("allow_errors", False),
                on_cell=on_cell,
                _prepared=True,
            )
            nb.metadata["language_info"] = res.nb.metadata["language_info"]
            if "widgets" in res.nb.metadata:
                nb.metadata["widgets"] = res.nb.metadata["widgets"]
            return nb

    return CasekitEngine


def __getattr__(name: str) -> Any:
    if name == "CasekitEngine":
        cls = _make_engine()
        globals()["CasekitEngine"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
