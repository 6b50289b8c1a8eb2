"""HTML output: handouts from editions, the cohort index, and the page shell others reuse.

Every page casekit writes (handouts, feedback, the programme guide) goes
through :func:`page`: one self-contained HTML file with inline CSS, the unit's
colour, a header, a CJK font stack and print rules, and no network use.
Notebook bodies come from nbconvert's ``basic`` template (body only, no
scripts, no MathJax or require.js from a CDN) and are sanitised with nh3, so
whatever reached an output (a trainee representative's words in a
deliberation, a trainee's answer) cannot run script in the page.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import nbformat
import nh3

import kit
from kit import artifacts
from kit import notebooks as nbs
from kit.course import Course, Failure, Outcome, load_course
from kit.messages import section, t

TEMPLATES = Path(__file__).parent / "templates"

_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {
    "style",
    "img",
    "figure",
    "figcaption",
    "section",
    "details",
    "summary",
    "span",
    "div",
    "label",
    "input",
    "progress",
}
_ALLOWED_ATTRS = {"*": {"class", "style", "id", "title", "lang", "dir"}} | {
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "a": {"href", "name"},
    "input": {"type", "checked", "disabled", "value"},
    "progress": {"value", "max"},
    "ol": {"start"},
}


def sanitize(html: str) -> str:
    """Remove script, event handlers and remote loads from HTML; keep tables, styles, data images."""
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script"},
        attributes=_ALLOWED_ATTRS,
        url_schemes={"data", "https", "http", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )


def page(
    title: str,
    body: str,
    *,
    colour: str = "#444444",
    programme: str = "",
    unit_name: str = "",
    meta: list[tuple[str, str]] | None = None,
    language: str = "zh",
    extra_css: str = "",
) -> str:
    """Wrap an HTML body in casekit's offline page shell (header, unit colour, print CSS).

    ``body`` is inserted as is: sanitise untrusted parts before passing them.
    Everything else is escaped.
    """
    return (
        _env()
        .get_template("page.html.j2")
        .render(
            title=title,
            body=body,
            colour=colour,
            programme=programme,
            unit_name=unit_name,
            meta=meta or [],
            language=language,
            extra_css=extra_css,
            footer=t("page.footer", language),
            version=kit.__version__,
        )
    )


@functools.cache
def _exporter(hide_code: bool):
    # Constructing an exporter loads and compiles its templates: do it once per process.
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=hide_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # nbconvert runs bleach over every code cell, markdown cell and output; nh3
    # sanitises the whole body afterwards anyway, many times faster.
    exporter.register_filter("clean_html", lambda html: html)
    return exporter


def _drop_title(nb: nbformat.NotebookNode, title: str) -> None:
    # The page header already shows the title; a second copy right under it is noise.
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = nbs.source(cell).splitlines()
            if lines and lines[0].lstrip("#").strip() == title:
                cell.source = "\n".join(lines[1:])
            return


@functools.cache
def _code_css() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


def notebook_body(nb: nbformat.NotebookNode, *, hide_code: bool) -> str:
    """The sanitised HTML body of a notebook (no page shell)."""
    body, _ = _exporter(hide_code).from_notebook_node(nb)
    return sanitize(body)


def session_meta(course: Course, cohort: str, session: str) -> tuple[list[tuple[str, str]], Any]:
    """Header rows (label, value) for one session, in the course's language."""
    co = course.cohort(cohort)
    s = co.session(session)
    L = section("page", course.language)
    teacher = course.faculty.loc[s.teacher]
    rows = [
        (L["cohort"], co.name),
        (L["session"], s.session),
        (L["date"], s.date.isoformat()),
        (L["teacher"], f"{teacher['name']} {teacher.get('title', '')}".strip()),
    ]
    if s.site:
        rows.append((L["site"], str(course.sites.loc[s.site]["name"])))
    if s.method in course.methods.index:
        rows.append((L["method"], str(course.methods.loc[s.method]["name"])))
    return rows, s


@dataclass
class HandoutResult(Outcome):
    """Handouts written for a cohort, and the ones that failed with their cause."""

    cohort: str = ""
    index: Path | None = None


def handouts(
    course: Path | str,
    cohort: str,
    *,
    sessions: list[str] | None = None,
    instructor: bool = True,
    progress: bool = True,
) -> HandoutResult:
    """Export a built cohort's editions to HTML handouts and write ``index.html``.

    Trainee handouts hide code; instructor handouts (``<session>.instructor.html``)
    show it. A session that has not been built is reported, not fatal.
    """
    c = load_course(course)
    co = c.cohort(cohort)
    out = artifacts.handouts_dir(c, co.id)
    out.mkdir(parents=True, exist_ok=True)
    result = HandoutResult(cohort=co.id)
    wanted = sessions or [s.session for s in co.sessions]
    editions = [("trainee", True, "")] + (
        [("instructor", False, ".instructor")] if instructor else []
    )
    L = section("page", c.language)
    entries = []
    with _progress(progress, len(wanted), t("page.index", c.language)) as tick:
        for sid in wanted:
            meta, s = session_meta(c, co.id, sid)
            unit = c.units[s.unit]
            for edition, hide_code, suffix in editions:
                src = artifacts.edition_path(c, co.id, sid, edition)
                if not src.exists():
                    result.failures.append(
                        Failure(sid, t("export.not_built", cohort=co.id), str(src))
                    )
                    break
                try:
                    nb = nbformat.read(str(src), as_version=4)
                    title = nbs.title_of(nb, sid)
                    _drop_title(nb, title)
                    label = L["edition_t"] if edition == "trainee" else L["edition_i"]
                    html = page(
                        title,
                        notebook_body(nb, hide_code=hide_code),
                        extra_css="" if hide_code else _code_css(),
                        colour=unit.colour,
                        programme=c.config.programme.name,
                        unit_name=unit.name,
                        meta=meta + [("", label)],
                        language=c.language,
                    )
                except Exception as e:  # one broken edition must not sink the batch
                    result.failures.append(Failure(sid, f"{type(e).__name__}: {e}", str(src)))
                    break
                target = artifacts.write_text(out / f"{sid}{suffix}.html", html)
                result.written.append(target)
                if edition == "trainee":
                    entries.append((s, unit, title, target.name))
            tick(sid)
    result.index = _index(c, co.id, entries, out)
    result.written.append(result.index)
    return result


def _index(course: Course, cohort: str, entries: list, out: Path) -> Path:
    L = section("page", course.language)
    by_unit: dict[str, list] = defaultdict(list)
    for s, unit, title, name in entries:
        by_unit[unit.id].append((s, title, name))
    env = _env()
    body = env.from_string(
        """<div class="ck-index">
{% for unit in units %}{% if by_unit[unit.id] %}
<section style="--c: {{ unit.colour }}"><h2 style="border-left-color: {{ unit.colour }}">{{ unit.name }}</h2><ul>
{% for s, title, name in by_unit[unit.id]|sort(attribute='0.date') %}
<li>{{ s.date.isoformat() }} · <a href="{{ name }}">{{ title }}</a> · {{ s.session }}
 (<a href="{{ name[:-5] }}.instructor.html">{{ L.instructor }}</a>)</li>
{% endfor %}</ul></section>{% endif %}{% endfor %}</div>"""
    ).render(units=course.config.units, by_unit=by_unit, L=L)
    co = course.cohort(cohort)
    html = page(
        f"{co.name} · {L['index']}",
        body,
        colour=course.config.units[0].colour,
        programme=course.config.programme.name,
        language=course.language,
    )
    return artifacts.write_text(out / "index.html", html)


class _progress:
    """A rich progress bar that is a no-op when disabled or not on a terminal."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.enabled, self.total, self.label = enabled, total, label

    def __enter__(self):
        if not self.enabled:
            return lambda name: None
        from rich.progress import Progress

        self._p = Progress(transient=True)
        self._p.start()
        task = self._p.add_task(self.label, total=self.total)
        return lambda name: self._p.update(task, advance=1, description=f"{self.label} {name}")

    def __exit__(self, *exc):
        if self.enabled:
            self._p.stop()
