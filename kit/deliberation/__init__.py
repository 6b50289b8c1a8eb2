"""Three-party pre-class deliberation (三方研议): records, history, form, parameters.

Before a class, the organisers (training office / party school), the teacher and
trainee representatives agree on what the class should respond to. The agreed
points are a session's ``deliberation`` parameter; a notebook may show them
(:func:`deliberation_banner`, :func:`show`), include optional ``module:NAME``
cells and ask the extra questions the parties agreed on.

The TOML file is meant to be read (and may be edited) by people; every change
made through :func:`record_deliberation` (or the form, which calls it) appends
one line to the history: version, time, who, role and the fields changed with
their old and new values. A hand edit of the TOML is detected at the next save
and recorded as its own history entry, so the history never silently misses a
change. The format is described in ``docs/deliberation.md``.

============================  =================================================
``kit.deliberation.model``    who may change what; the record model; parsing
``kit.deliberation.store``    reading, recording, history, the TOML writer
``kit.deliberation.checks``   checks against the course and its notebooks
``kit.deliberation.render``   cells the build inserts; the banner
``kit.deliberation.form``     the ipywidgets form
============================  =================================================
"""

from typing import Any

from kit.artifacts import deliberations_dir, history_path, record_path
from kit.deliberation.checks import (
    check_deliberations,
    notebook_modules,
    offered_modules,
    record_problems,
    session_problems,
)
from kit.deliberation.form import deliberation_form, form_class
from kit.deliberation.model import (
    AGREED_FIELDS,
    EXTRA_KINDS,
    PARTY_FIELDS,
    RECORD_FIELDS,
    ROLE_FIELDS,
    ROLES,
    Deliberation,
    ExtraQuestion,
    Parties,
    Role,
    RubricItem,
    parse_record,
)
from kit.deliberation.render import (
    deliberation_banner,
    deliberation_cells,
    display_names,
    extra_questions_source,
    insert_cells,
    show,
)
from kit.deliberation.store import (
    dumps_record,
    history,
    load_deliberation,
    record_deliberation,
    session_inputs,
)

__all__ = [
    "AGREED_FIELDS",
    "EXTRA_KINDS",
    "PARTY_FIELDS",
    "RECORD_FIELDS",
    "ROLES",
    "ROLE_FIELDS",
    "Deliberation",
    "ExtraQuestion",
    "Parties",
    "Role",
    "RubricItem",
    "check_deliberations",
    "deliberation_banner",
    "deliberation_cells",
    "display_names",
    "deliberation_form",
    "deliberations_dir",
    "dumps_record",
    "extra_questions_source",
    "history",
    "history_path",
    "insert_cells",
    "load_deliberation",
    "notebook_modules",
    "offered_modules",
    "parse_record",
    "record_deliberation",
    "record_path",
    "record_problems",
    "session_inputs",
    "session_problems",
    "show",
]


def __getattr__(name: str) -> Any:
    # DeliberationForm subclasses an ipywidgets class: made on first use, so build and check need no widgets.
    if name == "DeliberationForm":
        return form_class()
    raise AttributeError(name)
