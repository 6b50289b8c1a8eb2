"""Trainee code, run where it can do no harm, and graded without trusting it.

- ``boxes.py``: bubblewrap around a zygote; a namespace box per run
  (``clone_box``, ``enter_box``), templates, ``Limits``, ``SandboxUnavailable``;
- ``seccomp.py``, ``cgroup.py``: the system-call filter and the memory/pids bound;
- ``supervisor.py``: ``CodeGrader`` (one sandbox per grading run, two boxes per
  submission), ``CodeJob`` → ``CodeRun`` with typed failures;
- ``judge.py``: inside the boxes, the trainee's cells and the judge with
  injected values; ``callserver.py`` (the trainee's side of values that are not
  data) and ``proxies.py`` (the judge's stand-ins);
- ``safepickle.py``: the data-only format in which values cross;
- ``answers.py``: what an answer is to the grader (names a solution sets, typed
  run failures); ``crossing.py``: ``check``'s warnings for tests that ask the
  judge what cannot cross.

May import ``kit.execution`` and the layers below it; never grading or above.
Kept free of imports here: the boxes import these modules by name.
"""
