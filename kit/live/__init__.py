"""The live class: the instructor's screen while trainees answer.

- ``server.py``: ``live()``, the tornado server with server-sent events, its
  page (``kit/pages/templates/live.html``) and ``LiveClass`` (states, frozen
  answers, snapshots);
- ``stats.py``: per-kind summaries of the room's answers (bars, histogram, mean
  positions, answer groups).

The trainee's side (posting answers, following the class state, the state
document's format) is ``kit.workbook.livelink``: a workbook must not import
the instructor's server. May import marking and the layers below.
"""

from kit import command_package

command_package(__name__, "kit.live.server:live")
