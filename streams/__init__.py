"""mpwatch stream side: log formats, the correlation core, and the shells that run it.

Layout (one job per module):
- ``streams.formats``: bytes -> lines -> :class:`~streams.formats.record.Record` for every log format.
- ``streams.core``: records -> typed events -> per-server timelines, health states and diagnoses (pure).
- ``streams.cli``: the ``mpwatch`` command line, the composition root (it imports the shells, never the
  reverse).
"""

__version__ = "0.1.0"
