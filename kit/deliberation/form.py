"""The deliberation form: an ipywidgets form that edits a record through ``record_deliberation``."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from kit.course import Course, as_course
from kit.deliberation.checks import notebook_modules
from kit.deliberation.model import EXTRA_KINDS, ROLE_FIELDS, ROLES, Deliberation, Role
from kit.deliberation.store import load_deliberation, record_deliberation
from kit.messages import section, speaking, t
from kit.problems import CourseError


def _split_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _parse_split(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in re.split(r"[,，;；\n]", text):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        if not sep:
            k, sep, v = part.rpartition(" ")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ValueError(t("delib_form.bad_split", part=part.strip())) from None
    return out


def _parse_questions(text: str) -> list[dict[str, Any]]:
    """Lines ``id | prompt`` or ``id | kind | prompt`` (choice: ``| options: a; b``)."""
    out = []
    for line in _split_lines(text):
        parts = [p.strip() for p in line.split("|")]
        q: dict[str, Any] = {"id": parts[0]}
        rest = parts[1:]
        if rest and rest[-1].startswith(("options:", "选项:", "选项：")):
            q["options"] = [
                o.strip()
                for o in re.split(r"[;；]", rest.pop().split(":", 1)[-1].split("：", 1)[-1])
            ]
        if len(rest) >= 2 and rest[0] in EXTRA_KINDS:
            q["kind"] = rest.pop(0)
        q["prompt"] = " | ".join(rest)
        out.append(q)
    return out


def _format_questions(qs: list[dict[str, Any]]) -> str:
    lines = []
    for q in qs:
        line = f"{q['id']} | {q.get('kind', 'essay')} | {q['prompt']}"
        if q.get("options"):
            line += " | options: " + "; ".join(q["options"])
        lines.append(line)
    return "\n".join(lines)


def deliberation_form(
    course: Course | str | Path,
    cohort_id: str,
    session_id: str,
    *,
    by: str = "",
    role: Role = "organiser",
    language: str | None = None,
) -> Any:
    """An ipywidgets form that edits a session's deliberation through :func:`record_deliberation`.

    Returns a :class:`DeliberationForm` (a ``VBox``): put it last in a cell.
    Lists are one item per line; time split is ``activity=minutes, …``; extra
    questions are ``id | kind | prompt`` per line. Fields a role may not change
    are disabled. Only fields that differ from the loaded record are saved.
    """
    return form_class()(
        as_course(course), cohort_id, session_id, by=by, role=role, language=language
    )


_FORM_CLASS: type | None = None


def form_class() -> type:
    """The form's widget class (``DeliberationForm``), made when first needed."""
    # ipywidgets is imported only when a form is made: build and check do not need it.
    global _FORM_CLASS
    if _FORM_CLASS is None:
        _FORM_CLASS = _make_form_class()
    return _FORM_CLASS


#: The fields written one entry a line, in the form's order (after the teacher's direction).
_LIST_FIELDS = ("trainee_expectations", "trainee_questions", "organiser_decisions", "emphasis")


def _field_widgets(w: Any, labels: dict[str, str], offered: list[str]) -> dict[str, Any]:
    """One widget per field of the record, in the form's order (`w` is ipywidgets)."""
    lay = w.Layout(width="95%")
    style = {"description_width": "14em"}

    def area(name: str) -> Any:
        return w.Textarea(description=labels[name], layout=lay, style=style)

    return {
        "teacher_direction": area("teacher_direction"),
        **{name: area(name) for name in _LIST_FIELDS},
        "modules": w.SelectMultiple(options=offered, description=labels["modules"], style=style),
        "time_split": w.Text(description=labels["time_split"], layout=lay, style=style),
        "extra_questions": area("extra_questions"),
    }


class _FormActions:
    """What the form does with its widgets: load a record into them, save what changed.

    Apart from the widget class (made in `_make_form_class`), so it needs no ipywidgets.
    """

    course: Course
    cohort_id: str
    session_id: str
    lang: str
    t: dict[str, str]
    by: Any
    role: Any
    fields: dict[str, Any]
    status: Any
    version: int
    _loaded: dict[str, Any]

    def _enable(self) -> None:
        allowed = ROLE_FIELDS[self.role.value]
        for name, widget in self.fields.items():
            widget.disabled = name not in allowed

    def _values(self) -> dict[str, Any]:
        f = self.fields
        return {
            "teacher_direction": f["teacher_direction"].value.strip(),
            **{k: _split_lines(f[k].value) for k in _LIST_FIELDS},
            "modules": list(f["modules"].value),
            "time_split": _parse_split(f["time_split"].value),
            "extra_questions": _parse_questions(f["extra_questions"].value),
        }

    def load(self) -> None:
        """(Re)read the record into the widgets."""
        rec = load_deliberation(self.course, self.cohort_id, self.session_id) or Deliberation()
        d = rec.inputs()
        f = self.fields
        f["teacher_direction"].value = d["teacher_direction"]
        for k in _LIST_FIELDS:
            f[k].value = "\n".join(d[k])
        f["modules"].value = tuple(m for m in d["modules"] if m in f["modules"].options)
        f["time_split"].value = ", ".join(f"{k}={v:g}" for k, v in d["time_split"].items())
        f["extra_questions"].value = _format_questions(d["extra_questions"])
        self.version = rec.version
        self._loaded = self._values()
        self._enable()

    def save(self) -> Path | None:
        """Write the changed fields; show the outcome in ``status``."""
        with speaking(self.lang):  # problems in the form's language, whatever the machine says
            return self._save()

    def _save(self) -> Path | None:
        try:
            now = self._values()
            changes = {k: v for k, v in now.items() if v != self._loaded[k]}
            if not changes:
                self.status.value = html.escape(self.t["nochange"])
                return None
            path = record_deliberation(
                self.course,
                self.cohort_id,
                self.session_id,
                by=self.by.value,
                role=self.role.value,
                expected_version=self.version,
                **changes,
            )
        except (CourseError, ValueError) as e:
            msgs = e.problems if isinstance(e, CourseError) else [e]
            self.status.value = "<br>".join(
                f'<span style="color:#b00020">{html.escape(str(m))}</span>' for m in msgs
            )
            return None
        self.load()
        self.status.value = f"{html.escape(self.t['saved'])} {self.version}"
        return path


def _make_form_class() -> type:
    import ipywidgets as w

    class Form(_FormActions, w.VBox):
        """The deliberation form: ``fields`` (name → widget), ``save_button``, ``status``."""

        def __init__(
            self,
            course: Course,
            cohort_id: str,
            session_id: str,
            *,
            by: str,
            role: str,
            language: str | None,
        ):
            self.course, self.cohort_id, self.session_id = course, cohort_id, session_id
            lang = language or course.language
            self.lang = lang
            self.t = section("delib_form", lang)
            session = course.cohort(cohort_id).session(session_id)
            offered = sorted(notebook_modules(course, session.notebook))
            style = {"description_width": "14em"}
            self.by = w.Text(value=by, description=self.t["by"], style=style)
            self.role = w.Dropdown(
                options=list(ROLES), value=role, description=self.t["role"], style=style
            )
            self.fields = _field_widgets(w, self.t, offered)
            self.save_button = w.Button(
                description=self.t["save"], button_style="primary", icon="save"
            )
            self.status = w.HTML()
            self.save_button.on_click(lambda _b: self.save())
            self.role.observe(lambda _c: self._enable(), names="value")
            title = w.HTML(
                f"<b>{html.escape(course.cohort(cohort_id).name)} · {html.escape(session_id)}</b>"
            )
            super().__init__(
                [title, self.by, self.role, *self.fields.values(), self.save_button, self.status]
            )
            self.load()

    return Form
