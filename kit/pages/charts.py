"""Charts on casekit's pages: matplotlib figures as self-contained ``<img>`` tags.

One home for how a chart looks, so the report, the programme report and any
other page draw the same way: CJK fonts, the units' colours, and sizes chosen
for the smallest screen that reads them. A chart is drawn 700 px wide with
14-point text and shown at most 44 rem wide; on a 390 px phone it is shown
about 370 px wide, where its text is still about 11 px. Bars run
horizontally when their labels are names, so long Chinese labels never need
rotating. Nothing is fetched: the PNG is inlined as a data URI.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

WIDTH_IN = 6.4
DPI = 110
FONT_PT = 14
FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
MUTED = "#57606a"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.sans-serif": FONTS,
            "font.size": FONT_PT,
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": FONT_PT,
            "legend.fontsize": FONT_PT - 1,
            "legend.frameon": False,
        }
    )
    return plt


def img(fig: Any, alt: str) -> str:
    """The figure as an ``<img class="ck-chart">`` with a PNG data URI; the figure is closed."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return (
        f'<img class="ck-chart" alt="{html.escape(alt, True)}" src="data:image/png;base64,{data}">'
    )


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    colours: Sequence[str] | str,
    *,
    alt: str,
    limit: float | None = None,
    value_format: str = "{:.0f}",
    axis_label: str = "",
    marker: float | None = None,
) -> str:
    """Horizontal bars, one per label, top to bottom in the order given, each with its value.

    ``limit`` fixes the axis end (100 for a share, the scale for a rating);
    ``marker`` draws a dashed line there (a target).
    """
    plt = _plt()
    n = max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.9 + 0.55 * n))
    ys = list(range(n))[::-1]
    cols = [colours] * n if isinstance(colours, str) else list(colours)
    vals = [0.0 if v != v else float(v) for v in values]
    ax.barh(ys, vals, color=cols, height=0.62)
    ax.set_yticks(ys, [str(x) for x in labels])
    top = limit if limit is not None else max(vals + [1.0]) * 1.15
    ax.set_xlim(0, top)
    for y, v, raw in zip(ys, vals, values, strict=True):
        text = "—" if raw != raw else value_format.format(v)
        ax.text(v + top * 0.01, y, text, va="center", fontsize=FONT_PT - 1)
    if marker is not None:
        ax.axvline(marker, color="#333", linestyle="--", linewidth=1.2)
    if axis_label:
        ax.set_xlabel(axis_label, color=MUTED)
    ax.tick_params(axis="y", length=0)
    return img(fig, alt)


def lines(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    colours: dict[str, str],
    *,
    alt: str,
    limit: tuple[float, float] | None = None,
    axis_label: str = "",
    value_format: str = "{:.0f}",
) -> str:
    """One line per series over the x labels (cohorts in order), each point labelled with its value."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.8))
    xs = list(range(len(x_labels)))
    for name, values in series.items():
        vals = [float("nan") if v is None else float(v) for v in values]
        ax.plot(xs, vals, marker="o", linewidth=2.4, color=colours.get(name, "#555"), label=name)
        for x, v in zip(xs, vals, strict=True):
            if v == v:
                ax.annotate(
                    value_format.format(v),
                    (x, v),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=FONT_PT - 2,
                )
    ax.set_xticks(xs, [str(x) for x in x_labels])
    if len(xs) == 1:
        ax.set_xlim(-0.6, 0.6)
    if limit:
        ax.set_ylim(*limit)
    if axis_label:
        ax.set_ylabel(axis_label, color=MUTED)
    if len(series) > 1:
        # under the plot, not over it: a legend must never cover the data
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(series), 3))
    return img(fig, alt)
