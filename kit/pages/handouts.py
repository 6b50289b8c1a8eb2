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
import re
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
from kit.course import Course, as_course
from kit.messages import section, t
from kit.pages import TEMPLATES
from kit.pages.pdf import to_pdf
from kit.pages.present import finish_tables
from kit.problems import Failure, Outcome

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
            body=finish_tables(body, language),
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


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)", re.IGNORECASE)
#: nbconvert's text for an image output without one (kept, so pages that restate it find it).
_NO_ALT = 'alt="No description has been provided for this image"'


@functools.cache
def _exporter(hide_code: bool):
    # Constructing an exporter loads and compiles its templates: do it once per process.
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class HandoutExporter(HTMLExporter):
        """nbconvert's HTML exporter without its BeautifulSoup pass over the finished body.

        That pass (nbconvert 7) re-parses every page to add tabindex attributes,
        which nh3 removes again, and alt text to images, which a regular
        expression adds here: it was 60 % of a handout's cost. The rest is
        ``HTMLExporter.from_notebook_node`` as it is.
        """

        def from_notebook_node(self, nb, resources=None, **kw):
            info = nb.metadata.get("language_info", {})
            lexer = info.get("pygments_lexer", info.get("name", None))
            highlight = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            widgets = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight)
            self.register_filter("filter_data_type", widgets)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _IMG_WITHOUT_ALT.sub(f"<img {_NO_ALT}", html), resources

    exporter = HandoutExporter(
        template_name="basic",
        exclude_input=hide_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        # one schema validation after the preprocessors instead of one after each (13)
        optimistic_validation=True,
    )
    # nbconvert runs bleach over every code cell, markdown cell and output; nh3
    # sanitises the whole body afterwards anyway, many times faster.
    exporter.register_filter("clean_html", lambda html: html)
    return exporter


def warm_up() -> None:
    """Build the handout exporters now (nbconvert's import, templates compiled), e.g. while waiting."""
    _exporter(True)
    _exporter(False)


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


#: nbconvert's alt text for an image output, in English whatever the notebook's language.
_NBCONVERT_ALT = 'alt="No description has been provided for this image"'


def notebook_body(nb: nbformat.NotebookNode, *, hide_code: bool, language: str = "zh") -> str:
    """The sanitised HTML body of a notebook (no page shell); figures are ``img.ck-figure``."""
    body, _ = _exporter(hide_code).from_notebook_node(nb)
    alt = f'class="ck-figure" alt="{t("page.figure", language)}"'
    return sanitize(body.replace(_NBCONVERT_ALT, alt))


def session_meta(course: Course, cohort: str, session: str) -> tuple[list[tuple[str, str]], Any]:
    """Header rows (label, value) for one session, in the course's language."""
    co = course.cohort(cohort)
    s = co.session(session)
    L = section("page", course.language)
    teacher = course.faculty.loc[s.teacher]
    # Readers know a session by its place in the programme and its date; the id is for files.
    number = co.number(s.session)
    rows = [
        (L["cohort"], co.name),
        (L["session"], t("page.session_no", course.language, n=number)),
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
    """Handouts written for a cohort, and the ones that failed with their cause.

    ``index`` is the trainee index (trainee editions only, safe to share);
    ``instructor_index`` the instructor handouts' own index, in the instructor folder.
    """

    cohort: str = ""
    index: Path | None = None
    instructor_index: Path | None = None


@dataclass
class _Entry:
    """One session in an index: its handout, if there is one."""

    session: Any
    number: int
    title: str
    unit: Any
    href: str | None


def _render_edition(
    c: Course, cohort: str, sid: str, edition: str, meta: list, unit: Any
) -> tuple[str, str]:
    """(title, page) of one edition of a session as a handout."""
    from kit.pages import handout_notebook

    nb = nbformat.read(str(artifacts.edition_path(c, cohort, sid, edition)), as_version=4)
    title = nbs.title_of(nb, sid)
    _drop_title(nb, title)
    handout_notebook.number_questions(nb, c.language)
    trainee = edition == "trainee"
    if not trainee:
        handout_notebook.parameters_table(nb, c)
    L = section("page", c.language)
    return title, page(
        title,
        notebook_body(nb, hide_code=trainee, language=c.language),
        extra_css="" if trainee else _code_css(),
        colour=unit.colour,
        programme=c.config.programme.name,
        unit_name=unit.name,
        meta=meta + [("", L["edition_t"] if trainee else L["edition_i"])],
        language=c.language,
    )


def handouts(
    course: Course | Path | str,
    cohort: str,
    *,
    sessions: list[str] | None = None,
    instructor: bool = True,
    progress: bool = True,
    pdf: bool = False,
) -> HandoutResult:
    """Export a built cohort's editions to HTML handouts with an index for each audience.

    Trainee handouts (no code, no keys) and their ``index.html`` go to
    ``build/<cohort>/handouts/``, a folder that can be shared whole: its index
    links trainee editions only. Instructor handouts (code, keys, notes, a
    parameters table) go to ``build/<cohort>/instructor/handouts/`` with their
    own index, which says they must not be shared. A session that has not been
    built is reported, not fatal, and the index lists it as not built yet; an
    index with nothing built says what to run. ``pdf`` also prints each
    handout to a PDF beside it (:mod:`kit.pages.pdf`).
    """
    c = as_course(course)
    co = c.cohort(cohort)
    out = artifacts.handouts_dir(c, co.id)
    inst = artifacts.instructor_handouts_dir(c, co.id)
    out.mkdir(parents=True, exist_ok=True)
    # Older builds put instructor editions beside trainee handouts: a key must never stay there.
    for stale in out.glob("*.instructor.html"):
        stale.unlink()
    result = HandoutResult(cohort=co.id)
    wanted = sessions or [s.session for s in co.sessions]
    editions = ["trainee"] + (["instructor"] if instructor else [])
    with _progress(progress, len(wanted), t("page.index", c.language)) as tick:
        for sid in wanted:
            meta, s = session_meta(c, co.id, sid)
            unit = c.units[s.unit]
            for edition in editions:
                src = artifacts.edition_path(c, co.id, sid, edition)
                if not src.exists():
                    result.failures.append(
                        Failure(sid, t("export.not_built", cohort=co.id), str(src))
                    )
                    break
                try:
                    _, html = _render_edition(c, co.id, sid, edition, meta, unit)
                except Exception as e:  # one broken edition must not sink the batch
                    result.failures.append(Failure(sid, f"{type(e).__name__}: {e}", str(src)))
                    break
                folder = out if edition == "trainee" else inst
                target = artifacts.write_text(folder / f"{sid}.html", html)
                result.written.append(target)
            tick(sid)
    result.index = _index(c, co.id, out, audience="trainee")
    result.written.append(result.index)
    if instructor:
        result.instructor_index = _index(c, co.id, inst, audience="instructor")
        result.written.append(result.instructor_index)
    if pdf:
        printed = to_pdf([p for p in result.written if p.name != "index.html"])
        result.written += printed.written
        result.failures += printed.failures
    return result


def _entries(course: Course, cohort: str, folder: Path) -> list[_Entry]:
    """Every scheduled session by date, with its handout in `folder` if one was written."""
    co = course.cohort(cohort)
    entries = []
    for n, s in enumerate(co.by_date(), 1):
        title = nbs.session_title(course, cohort, s.session)
        href = f"{s.session}.html" if (folder / f"{s.session}.html").exists() else None
        entries.append(_Entry(s, n, title, course.units.get(s.unit), href))
    return entries


def _index(course: Course, cohort: str, folder: Path, *, audience: str) -> Path:
    """The index of one audience's handouts: sessions by unit (programme order), then by date."""
    lang = course.language
    L = section("page", lang)
    co = course.cohort(cohort)
    entries = _entries(course, cohort, folder)
    by_unit: dict[str, list[_Entry]] = defaultdict(list)
    for e in entries:
        by_unit[e.session.unit].append(e)
    folder.mkdir(parents=True, exist_ok=True)
    body = (
        _env()
        .from_string(
            """{% if audience == 'instructor' %}<p class="ck-warning" role="alert">{{ L.instructor_warning }}</p>{% endif %}
{% if not any_built %}<div class="ck-empty"><p>{{ empty }}</p></div>{% endif %}
<div class="ck-index">
{% for unit in units %}{% if by_unit[unit.id] %}
<section style="--c: {{ unit.colour }}"><h2 style="border-left-color: {{ unit.colour }}">{{ unit.name }}</h2><ul>
{% for e in by_unit[unit.id] %}
<li><span class="ck-when">{{ session_no(e.number) }} · {{ e.session.date.isoformat() }}</span>
{% if e.href %}<a href="{{ e.href }}">{{ e.title }}</a>{% else %}{{ e.title }} <span class="ck-muted">（{{ L.not_built_yet }}）</span>{% endif %}
{% if audience == 'instructor' and e.href %} · <a class="ck-muted" href="../../handouts/{{ e.href }}">{{ L.edition_t }}</a>{% endif %}</li>
{% endfor %}</ul></section>{% endif %}{% endfor %}</div>"""
        )
        .render(
            units=course.config.units,
            by_unit=by_unit,
            L=L,
            audience=audience,
            any_built=any(e.href for e in entries),
            empty=t(
                "page.empty_index",
                lang,
                build=f"casekit build {co.id}",
                handouts=f"casekit handouts {co.id}",
            ),
            session_no=lambda n: t("page.session_no", lang, n=n),
        )
    )
    title = L["index"] if audience == "trainee" else L["index_instructor"]
    html = page(
        f"{co.name} · {title}",
        body,
        colour=course.config.units[0].colour,
        programme=course.config.programme.name,
        language=lang,
    )
    return artifacts.write_text(folder / "index.html", html)


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
