"""The distributed shell: Faust workers running the engine's two stages over Kafka.

::

    mpwatch-records (key: source host)          mpwatch-events (key: target server)
      wire batches ──► stage 1 ──────────────────► stage 2 ──► mpwatch-health (key: server)
                       decode, parse_records,      ServerState.apply        one JSON object per change
                       Correlator.feed_many        (idempotent by event)
                       table "correlators"         table "servers"
                       (Correlator.state())        (ServerState.to_dict())

* ``settings``  -- flags / MPWATCH_* environment / TOML (the shipper's ``[kafka]`` table for TLS and
  SASL/SCRAM);
* ``topics``    -- every topic and changelog created up front with one partition count;
* ``app``       -- the Faust app: topics, tables, both agents, the timer, rebalance hooks;
* ``web``       -- ``/metrics`` and the query API, each request answered by the worker owning the key.

No correlation happens here: stage 1 calls ``Correlator`` exactly as ``streams.engine.Engine`` does
(one per source host, the site's fallback offset for hosts whose logs state no zone), stage 2 calls
``ServerState.apply``; the tables hold their ``state()`` / ``to_dict()``. Processing is at-least-once
(Faust's exactly-once is unreliable): a redelivered batch is ignored by the Correlator's replay guard
and a repeated event by ``ServerState.apply``, so every update is idempotent. Stage 1 waits until its
events are acknowledged by the broker before it writes the correlator's new state, so a crash can
repeat events but never lose them.
"""
