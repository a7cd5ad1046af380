"""The correlation core: records -> events -> per-server state -> states, diagnoses, timelines.

Pure and deterministic: no I/O, no clock of its own ("now" is always an argument), no globals. The
offline ``mpwatch diagnose``, the embedded pipeline and the Faust workers all run these same pieces:

``matchers``  what a record's text means (event kinds), robust to case, spacing, wrapping and ``~``.
``field_rules`` what a STATMSG or IIS record's parsed fields mean (event kinds).
``extract``   ``EventExtractor``: one per host log stream; attributes each event to its target server
              (STATMSG ``SYS=``, the file's host for MP-side logs, SiteComp thread context), places
              zoneless times with ``clock.HostClock`` (flagged inferred), numbers events by source
              position and chains them per (file, server).
``events``    ``Event``: kind, variant, target server, UTC time, source (host, file, offset) = stable id.
``reducer``   ``ServerState`` per server: idempotent and order-independent ``apply``; bounded retention
              (repetitive series keep first/last few events plus a count; milestones and errors are
              kept); replays recognised through per-file intervals of the event chain, not a set of
              every id. Plain-data ``to_dict``/``from_dict`` for a table keyed by server.
``applied``   per-file intervals of the event chain that a server state has applied (replay detection).
``rules``     kept events + now -> state (pending ... healthy, degraded, stuck, failed) and the active
              catalogue diagnoses with their evidence (specific beats generic, later success clears).
``catalogue`` the diagnosis codes with title, cause, remedy, phase and specificity.
``view``      the JSON shape ``mpwatch diagnose --json`` prints.

Assumptions worth knowing: the events of one file reach a server state with correct ``prev`` links
(the extractor's chain state is checkpointed together with its parse position); arbitrary reordering
and duplication are then handled exactly. Times without a zone are only as good as the host's learned
or configured UTC offset.
"""
