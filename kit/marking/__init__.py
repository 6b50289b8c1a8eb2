"""Marking what a machine cannot grade: rubrics, by hand, by answer group, offline.

- ``notebook.py``: ``mark()``, the marking notebook's widgets, ``record_mark``;
- ``book.py``: the marking queue, answer groups per question, ``MarkSession.save``
  (item / answer group / roster group), partial points, pseudonyms, uploads;
- ``sheets.py``: ``export_marks()`` / ``import_marks()``, marks in .xlsx/.csv
  for offline markers;
- ``groups.py``: answer groups (TF-IDF character n-grams, numpy only).

May import grading, the gradebook and the layers below; never live, hub,
programme or the CLI.
"""
