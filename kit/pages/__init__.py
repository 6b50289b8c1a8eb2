"""What people read: HTML handouts and pages, charts, PDF, and their templates.

- ``handouts.py``: nbconvert exporters and the two handout indexes; the shared
  page shell (unit colour, header, font stack, phone and print CSS) that
  feedback, guide and report pages use;
- ``handout_notebook.py``: what a handout shows of a built notebook;
- ``present.py``: how values look on a page and in a workbook (phone-readable
  tables, 是/否, local times);
- ``charts.py``: matplotlib figures as inline ``<img>``, sized for a phone;
- ``pdf.py``: ``--pdf``, pages printed by the system's Chromium;
- ``templates/``: the Jinja templates and CSS (``TEMPLATES``).

May import notebooks, kinds, course, artifacts, messages and problems; grading,
programme and live import it, never the other way round.
"""

from pathlib import Path

#: the one folder of page templates and their CSS
TEMPLATES = Path(__file__).parent / "templates"
