"""How casekit shows values on its pages: tables, times, numbers, yes and no.

Every page casekit writes (handouts, feedback, reports, the guide) reads its
tables and time stamps through here, so that a phone, a printer and a reader
of the course's language see them the same way everywhere:

* :func:`finish_tables` makes every ``<table>`` of a page readable on a
  phone: it scrolls inside its own box instead of squeezing Chinese text to
  one character per line (short cells do not wrap, long ones keep a minimum
  width), and a pandas table loses its default 0, 1, 2… row index and says
  是/否 instead of True/False;
* :func:`frame_html` renders a DataFrame casekit itself puts on a page;
* :func:`local_time` writes a time stamp in the course's zone, to the minute;
  :func:`zone_time` one the workbook shows (saved at, handed in at).
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from kit import numbers
from kit.messages import t

#: Cells with at most this many characters never wrap (a number, a name, a date).
SHORT_CELL = 14

# a table already in its scroll box (made finished, see html_table) is left as it is
_TABLE = re.compile(r"(<div class=\"ck-scroll\">)?<table\b.*?</table>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")


def num(x: Any, digits: int = 2) -> str:
    """A number on a page (:func:`kit.numbers.num`), to two decimals: 3, 2.5, 0.33 — never 0.3333333."""
    return numbers.num(x, digits)


def yes_no(value: bool, language: str) -> str:
    """是/否 (or yes/no) for a boolean shown to a reader."""
    return t("common.yes" if value else "common.no", language)


def local_time(value: Any, zone: ZoneInfo | None = None, *, seconds: bool = False) -> str:
    """A time stamp as ``2026-06-01 16:00`` in `zone` (a naive value is taken as UTC).

    Accepts a datetime, a date or an ISO string; anything else is returned as text.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, datetime):
        return str(value)
    if zone is not None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        value = value.astimezone(zone)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def zone_time(value: Any, zone: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time stamp (ISO text or datetime) in the course's zone, named as in ``course.toml``.

    The workbook shows save and hand-in times through here: the course's
    clock, not the machine's (a hub in UTC, a laptop abroad). Without a zone
    (a workbook released before it recorded one) the machine's is all there is.
    """
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return when.astimezone(ZoneInfo(zone) if zone else None).strftime(fmt)
    except (ValueError, KeyError):  # not a time; an unknown zone (ZoneInfoNotFoundError)
        return str(value or "")


def fit_class(text: str) -> str:
    """The phone class of a cell showing `text`: a short cell never wraps, a long one keeps a width."""
    return "ck-nw" if len(text.strip()) <= SHORT_CELL else "ck-long"


def html_text(fragment: str) -> str:
    """The text a reader sees of an HTML fragment (tags dropped, entities read)."""

    return html.unescape(_TAG.sub("", fragment))


def scroll_box(table: str) -> str:
    """A finished table in the box it scrolls in on a phone (:func:`finish_tables` leaves it)."""
    return f'<div class="ck-scroll">{table}</div>'


def html_table(heads: list[str], rows: list[list[Any]], *, classes: str = "") -> str:
    """A finished table from header texts (escaped here) and rows of cells that are already HTML.

    Made phone-readable here (cell classes, scroll box) rather than by
    :func:`finish_tables`, which then leaves it: a report's tables are large.
    """

    head = "".join(f'<th class="{fit_class(h)}">{html.escape(h)}</th>' for h in heads)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{fit_class(html_text(str(c)))}">{c}</td>' for c in r)
        + "</tr>"
        for r in rows
    )
    cls = f' class="{html.escape(classes)}"' if classes else ""
    return scroll_box(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def frame_html(df: Any, language: str, *, digits: int = 1, classes: str = "") -> str:
    """A DataFrame casekit puts on a page: no row index, booleans as 是/否, numbers rounded, blanks for NaN."""
    import pandas as pd

    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_bool_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: yes_no(bool(v), language))
    return shown.to_html(
        index=False,
        na_rep="",
        border=0,
        classes=classes or None,
        float_format=lambda x: num(x, digits),
        escape=True,
    )


def finish_tables(html: str, language: str) -> str:
    """Every table of a page made phone-readable; pandas tables without index and with 是/否.

    Tables are rewritten one by one (a page's images and text are left as
    they are), so the cost grows with the tables, not with the page. A table
    already in its scroll box (:func:`scroll_box`, as :func:`html_table`
    makes them) is taken as finished and left as it is.
    """
    if "<table" not in html and "<TABLE" not in html:
        return html
    return _TABLE.sub(
        lambda m: m.group(0) if m.group(1) else _finish_one(m.group(0), language), html
    )


def _finish_one(fragment: str, language: str) -> str:
    from bs4 import BeautifulSoup

    if fragment.lower().count("<table") > 1:  # a nested table: leave it as the author made it
        return scroll_box(fragment)
    soup = BeautifulSoup(fragment, "html.parser")
    table = soup.find("table")
    if table is None:
        return fragment
    if "dataframe" in (table.get("class") or []):
        _drop_default_index(table)
        yes, no = yes_no(True, language), yes_no(False, language)
        for td in table.find_all("td"):
            text = td.get_text().strip()
            if text in ("True", "False") and not td.find(True):
                td.string = yes if text == "True" else no
    for cell in table.find_all(["td", "th"]):
        cls: list[str] = list(cell.get("class") or [])
        cell["class"] = " ".join([*cls, fit_class(cell.get_text())])
    return scroll_box(str(table))


def _drop_default_index(table: Any) -> None:
    """Remove pandas' default row index (0, 1, 2, … unnamed): it means nothing to a reader."""
    body_rows = table.find("tbody").find_all("tr") if table.find("tbody") else []
    if not body_rows:
        return
    firsts = []
    for tr in body_rows:
        cells = tr.find_all(["th", "td"], recursive=False)
        if not cells or cells[0].name != "th":
            return
        if sum(1 for c in cells if c.name == "th") != 1:
            return  # a MultiIndex: the levels carry meaning
        firsts.append(cells[0])
    numbers = [c.get_text().strip() for c in firsts]
    if not all(re.fullmatch(r"\d+", n) or n == "..." for n in numbers):
        return
    ints = [int(n) for n in numbers if n != "..."]
    if not ints or ints != sorted(ints) or ints[0] != 0:
        return
    head_rows = table.find("thead").find_all("tr") if table.find("thead") else []
    for tr in head_rows:
        cells = tr.find_all(["th", "td"], recursive=False)
        if not cells or cells[0].get_text().strip() or cells[0].get("colspan"):
            return  # a named index or column label in that corner: keep the table whole
    for tr in head_rows:
        tr.find_all(["th", "td"], recursive=False)[0].decompose()
    for cell in firsts:
        cell.decompose()
