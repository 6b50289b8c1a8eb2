"""Grading: collect, autograde, graded feedback and grade export.

The flow is ``collect`` → ``grade`` → (``kit.marking.notebook.mark``) → ``feedback`` /
``grades``. Each is a batch step: idempotent, resumable, with a progress bar,
and a failing item is reported with its cause without sinking the batch.

==============================  =================================================
``kit.grading.submissions``     ``collect``, archive safety, the submission store
``kit.grading.keys``            ``load_keys``: what the instructor side knows
``kit.grading.autograde``       ``grade``: scoring by kind
``kit.grading.tamper``          ``tamper_flags``: locked cells changed, unknown answers
``kit.grading.coderun``         ``run_code_questions``: trainee code in the sandbox
``kit.grading.pages``           ``feedback``: graded HTML pages
``kit.grading.export``          ``grades``: CSV/XLSX with per-unit subtotals
==============================  =================================================
"""

from kit.grading.autograde import GRADER_VERSION, GradeResult, grade
from kit.grading.coderun import NoSandbox, open_runner, run_code_questions
from kit.grading.export import GradesResult, grades, grades_table
from kit.grading.keys import SessionKeys, load_keys
from kit.grading.pages import FeedbackResult, feedback, feedback_html
from kit.grading.submissions import CollectResult, collect, index_store
from kit.grading.tamper import tamper_flags

__all__ = [
    "GRADER_VERSION",
    "CollectResult",
    "FeedbackResult",
    "GradeResult",
    "GradesResult",
    "NoSandbox",
    "SessionKeys",
    "collect",
    "feedback",
    "feedback_html",
    "grade",
    "grades",
    "grades_table",
    "index_store",
    "load_keys",
    "open_runner",
    "run_code_questions",
    "tamper_flags",
]
