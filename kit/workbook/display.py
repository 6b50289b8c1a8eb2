"""How values look in a workbook's outputs: as a reader expects, not as Python prints them.

Trainees are officials, not programmers: ``True`` reads 是 (yes), and a
pandas Series is a small table, not text ending in ``Name: …, dtype: float64``.
:func:`install` sets IPython's display formatters for the kernel a workbook
opens in (the setup cell calls it through ``open_workbook``); code a trainee
writes still gets Python's own values, only what is shown changes.
"""

from __future__ import annotations

from typing import Any

from kit.messages import t


def install(ip: Any, language: str) -> None:
    """Register casekit's formatters on the IPython shell `ip` (idempotent)."""
    formatter = getattr(ip, "display_formatter", None)
    if formatter is None:
        return
    plain = formatter.formatters["text/plain"]
    html = formatter.formatters["text/html"]
    yes_no = {True: t("display.true", language), False: t("display.false", language)}

    def show_bool(value: Any, printer: Any, _cycle: bool) -> None:
        printer.text(yes_no[bool(value)])

    # True and False are printed by identity before any type printer is asked
    plain.singleton_printers[id(True)] = show_bool
    plain.singleton_printers[id(False)] = show_bool
    plain.for_type(bool, show_bool)
    plain.for_type_by_name("numpy", "bool", show_bool)
    plain.for_type_by_name("numpy", "bool_", show_bool)

    def series_text(value: Any, printer: Any, _cycle: bool) -> None:
        printer.text(_readable(value, yes_no).to_string())

    def series_html(value: Any) -> str:
        frame = _readable(value, yes_no).to_frame(name=value.name if value.name is not None else "")
        return str(frame._repr_html_())

    def frame_html(value: Any) -> str | None:
        # pandas' own table (its limits on rows and columns) with booleans as words
        return _readable(value, yes_no)._repr_html_()

    import pandas as pd  # every workbook kernel holds it (the exhibits are pandas)

    plain.for_type(pd.Series, series_text)
    html.for_type(pd.Series, series_html)
    html.for_type(pd.DataFrame, frame_html)


def _readable(value: Any, yes_no: dict[bool, str]) -> Any:
    """A copy of a Series or DataFrame whose booleans read 是/否."""
    if hasattr(value, "columns"):
        out = value.copy()
        for col in out.columns:
            if str(out[col].dtype) == "bool":
                out[col] = out[col].map(yes_no)
        return out
    return value.map(yes_no) if str(value.dtype) == "bool" else value
