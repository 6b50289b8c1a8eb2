"""Modules that shadow costly optional imports in trainees' servers (on their ``PYTHONPATH``).

Each file here is named after a top-level module that a trainee's server would
import only to enable something it never uses; the file refuses the import, so
the library falls back as if the optional package were not installed.

* ``rfc3987_syntax``: jsonschema builds a full RFC 3987 grammar when it finds
  this package (``jupyter_events`` imports jsonschema's format checkers). That
  is about 1.9 s of CPU at every server start: on 2 cores, a minute of a
  60-trainee class start. Without it the ``iri`` formats go unchecked in event
  schemas, which a trainee's server does not rely on.
"""
