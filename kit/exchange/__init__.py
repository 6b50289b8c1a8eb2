"""Where work passes between instructor and trainees, and what proves who sent it.

- ``clients.py``: the ``Exchange`` interface; ``FolderExchange`` (a shared
  folder), ``HubExchange`` (the hub's exchange service); ``exchange_for()``;
- ``trust.py``: the course secret, release tokens, signed receipts, ``verify()``
  (what ``collect`` may believe).

Both the trainee's workbook (hand-in) and the instructor's side (release,
collect, the hub's service) use it, so it sits low: it may import course,
artifacts, access, untrusted, messages and problems only.
"""
