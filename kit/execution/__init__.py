"""Running trusted notebooks: the instructor's cases, at build and in `try`.

- ``executor.py``: run one notebook with parameters in a forked warm child
  (IPython in-process, no kernel start-up), timeouts, memory bound, pool, dask;
- ``zygote.py``: the warm zygote (imports, in-process shell, frames) and its
  fork loop, shared with the sandbox (which passes its own way to spawn a box);
- ``shell.py``: the in-process IPython shell and cell runner zygote children and
  the sandbox's boxes share;
- ``engines.py``: the executor as papermill engine ``casekit`` (``kit.engines``
  keeps the entry point's name).

May import the layers below (problems, messages, course, artifacts, kinds,
notebooks, pages, workbook); never ``kit.sandbox`` or anything above. Kept free
of imports here: the zygote and the boxes import these modules by name.
"""
