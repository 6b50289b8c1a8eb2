"""The programme as a whole: action learning, interactive share, evaluation, the guide, the report.

=================================  ==================================================
``kit.programme.sites``            ``site_card``: a teaching site for notebooks and handouts
``kit.programme.datasets``         ``session_datasets``: drill datasets of a session
``kit.programme.assignments``      ``tasks``: issue-based tasks (课题) per trainee or group
``kit.programme.share``            ``interactive_share``: hours in interactive methods
``kit.programme.overview``         ``summary``: one cohort at a glance
``kit.programme.evaluation``       ``evaluation_summary``: ratings per teacher, method, unit
``kit.programme.handbook``         ``guide``: the annual programme guide
``kit.programme.figures``          ``cohort_figures``: hand-ins, scores over what was due, ratings
``kit.programme.dashboard``        ``report``: the cohort dashboard
``kit.programme.trends``           ``programme_report``: headline figures across cohorts
=================================  ==================================================
"""

from __future__ import annotations

from pathlib import Path

from kit.course import Course, inspect_course
from kit.problems import Problem
from kit.programme.assignments import TASK_COLUMNS, Task, group_members, task_problems, tasks
from kit.programme.dashboard import report
from kit.programme.datasets import dataset_problems, session_dataset_problems, session_datasets
from kit.programme.evaluation import (
    EVAL_COLUMNS,
    clean_comment,
    evaluation_html,
    evaluation_summary,
)
from kit.programme.figures import CohortFigures, cohort_figures
from kit.programme.handbook import FACULTY_KINDS, guide, notebook_info, render_guide
from kit.programme.overview import CohortSummary, summary
from kit.programme.share import ALL, SHARE_COLUMNS, interactive_share, share_problems
from kit.programme.sites import CATEGORIES, CATEGORY_COLOURS, FONT_STACK, show_site, site_card
from kit.programme.trends import programme_report, programme_trends

__all__ = [
    "ALL",
    "CATEGORY_COLOURS",
    "CATEGORIES",
    "EVAL_COLUMNS",
    "FONT_STACK",
    "FACULTY_KINDS",
    "SHARE_COLUMNS",
    "TASK_COLUMNS",
    "CohortFigures",
    "CohortSummary",
    "Task",
    "clean_comment",
    "cohort_figures",
    "dataset_problems",
    "evaluation_html",
    "evaluation_summary",
    "group_members",
    "guide",
    "interactive_share",
    "notebook_info",
    "programme_problems",
    "programme_report",
    "programme_trends",
    "render_guide",
    "report",
    "session_dataset_problems",
    "session_datasets",
    "share_problems",
    "show_site",
    "site_card",
    "summary",
    "task_problems",
    "tasks",
]


def programme_problems(course: Course | str | Path) -> list[Problem]:
    """Everything this module checks, for ``casekit check``: tasks, datasets, interactive share."""
    if not isinstance(course, Course):
        loaded, problems = inspect_course(course)
        if loaded is None:
            return problems
        course = loaded
    return task_problems(course) + dataset_problems(course) + share_problems(course)
