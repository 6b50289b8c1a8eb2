"""Teaching sites (现场教学点) as cards for notebooks and handouts."""

from __future__ import annotations

import html
from typing import Any

from kit.messages import lang_of, t

#: Categories of teaching site (labels: ``site_category.<category>`` messages).
CATEGORIES = ("red-heritage", "grassroots-governance", "clean-government", "transformation")
CATEGORY_COLOURS = {
    "red-heritage": "#c0392b",
    "grassroots-governance": "#1565c0",
    "clean-government": "#6a1b9a",
    "transformation": "#2e7d32",
}
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
)


def site_card(site: dict[str, Any] | None, language: str = "zh") -> str:
    """A teaching site as a small self-contained HTML card (inline styles, escaped).

    ``site`` is a catalog row as notebooks receive it in the ``site``
    parameter: ``{"id", "name", "category", "address", "contact_role", ...}``.
    Returns ``""`` for ``None`` (a session held in the classroom).
    """
    if not site:
        return ""
    lang = lang_of(language)
    e = html.escape
    category = str(site.get("category", ""))
    colour = CATEGORY_COLOURS.get(category, "#555555")
    label = t(f"site_category.{category}", lang) if category in CATEGORIES else category
    words = [t(f"site.{w}", lang) for w in ("site", "address", "contact")]
    rows = ""
    for name, key in ((words[1], "address"), (words[2], "contact_role")):
        if site.get(key):
            rows += (
                f'<div style="margin:2px 0"><span style="color:#666">{e(name)}：</span>'
                f"{e(str(site[key]))}</div>"
            )
    return (
        f'<div class="casekit-site" style="border-left:6px solid {colour};padding:8px 12px;'
        f'margin:8px 0;background:#fafafa;font-family:{e(FONT_STACK)};break-inside:avoid">'
        f'<div style="font-size:0.85em;color:{colour}">{e(words[0])} · {e(label)}</div>'
        f'<div style="font-size:1.15em;font-weight:bold;margin:2px 0">{e(str(site.get("name", "")))}</div>'
        f"{rows}</div>"
    )


def show_site(site: dict[str, Any] | None, language: str = "zh") -> None:
    """Display :func:`site_card` in a notebook (call it with the ``site`` parameter)."""
    from IPython.display import HTML, display

    card = site_card(site, language)
    if card:
        display(HTML(card))
