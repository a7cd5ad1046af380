"""Getting one batch accepted by the output: retries, backoff, outage state, shutdown deadline.

``Delivery.deliver`` returns True once the output accepted the batch, False only when a shutdown ran
out of time (``retry.shutdown_timeout_s``). Meanwhile:

* a failed attempt is retried after an exponential backoff with jitter (``retry.initial_s`` doubling up
  to ``retry.max_s``);
* an attempt still unconfirmed after ``retry.slow_send_s`` already counts as an outage (a dead broker
  is often noticed by the client only after its request timeout), so ``output_up`` drops to 0 and
  ``backpressure_seconds_total`` runs from the start of that attempt;
* an outage is logged once when it starts and once when it ends, never per retry;
* every second of waiting calls ``on_wait`` (the pipeline refreshes the lag gauges there, so they keep
  growing while nothing is shipped);
* with ``give_up_s`` (``--once``: ``retry.once_timeout_s``) a batch unconfirmed that long, or refused
  with a permanent error, is given up (``deliver`` returns False and ``failure`` says why): a one-shot
  run must end, with a non-zero exit, instead of retrying forever.

Each failed attempt counts in ``output_failures_total{reason}``; the outage line names the cause the
output reported (for Kafka: unknown topic, not authorised, message too large, unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from shipper.batch import Batch
from shipper.config import RetrySettings
from shipper.errors import OutputError
from shipper.metrics import ShipperMetrics
from shipper.outputs.base import Output

log = logging.getLogger("mpwatch.shipper")
SLICE_S = 1.0  # how often gauges are refreshed while waiting


class Delivery:
    """Delivers batches to one output with retries (see the module docstring)."""

    def __init__(
        self,
        output: Output,
        retry: RetrySettings,
        metrics: ShipperMetrics,
        clock: Callable[[], float],
        on_wait: Callable[[], None] = lambda: None,
        give_up_s: float | None = None,
    ) -> None:
        self.output = output
        self.give_up_s = give_up_s
        self.failure: str | None = None  # why the last batch was given up
        self.retry = retry
        self.metrics = metrics
        self.clock = clock
        self.on_wait = on_wait
        self._outage: float | None = None  # when the current outage began
        self._mark = 0.0  # up to when backpressure seconds were counted
        self._failures = 0
        self._causes: set[str] = set()  # failure reasons already logged in this outage

    async def deliver(self, batch: Batch, stop: asyncio.Event) -> bool:
        attempt = 0
        give_up_at = None if self.give_up_s is None else self.clock() + self.give_up_s
        shutdown_at: float | None = None
        deadline = give_up_at
        last_error: BaseException | None = None
        while True:
            if stop.is_set() and shutdown_at is None:
                shutdown_at = self.clock() + self.retry.shutdown_timeout_s
                deadline = shutdown_at if deadline is None else min(deadline, shutdown_at)
            error, deadline = await self._attempt(batch, stop, deadline)
            if error is None:
                self._recovered()
                return True
            self._failed(error)
            permanent = self.give_up_s is not None and getattr(error, "permanent", False)
            if getattr(error, "reason", "") != "timeout" or last_error is None:
                last_error = error  # a cut attempt says less than the error before it
            if permanent or (deadline is not None and self.clock() >= deadline):
                self.failure = str(last_error) or type(last_error).__name__
                log.error(
                    "giving up with %d records not confirmed (%s); they stay before the checkpoint and are "
                    "read again on the next run",
                    len(batch),
                    self.failure,
                )
                return False
            delay = _backoff(attempt, self.retry.initial_s, self.retry.max_s)
            attempt += 1
            end = self.clock() + delay
            if deadline is not None:
                end = min(end, deadline)
            while (left := end - self.clock()) > 0:
                if shutdown_at is None and stop.is_set():
                    break  # retry at once, then within the shutdown deadline
                if shutdown_at is None:
                    await _wait(stop, min(left, SLICE_S))
                else:
                    await asyncio.sleep(min(left, SLICE_S))
                self._tick()

    async def _attempt(
        self, batch: Batch, stop: asyncio.Event, deadline: float | None
    ) -> tuple[BaseException | None, float | None]:
        """One send; returns (error or None, deadline possibly set by a stop request meanwhile)."""
        started = self.clock()
        task = asyncio.ensure_future(self.output.send(batch.values))
        while True:
            timeout = SLICE_S if deadline is None else max(0.0, min(SLICE_S, deadline - self.clock()))
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                error = task.exception()
                if error is not None and not isinstance(error, OutputError):
                    raise error
                return error, deadline
            now = self.clock()
            if stop.is_set():  # a stop request while sending: at most the shutdown timeout from now on
                shutdown = now + self.retry.shutdown_timeout_s
                deadline = shutdown if deadline is None else min(deadline, shutdown)
            if deadline is not None and now >= deadline:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, OutputError):
                    await task
                reason = f"{self.output.describe()}: no confirmation for {now - started:.0f} s"
                return OutputError(reason, reason="timeout"), deadline
            if self._outage is None and now - started >= self.retry.slow_send_s:
                self._begin(started, f"{self.output.describe()}: no confirmation for {now - started:.0f} s")
            self._tick()

    def _begin(self, since: float, reason: str) -> None:
        self._outage = self._mark = since
        self.metrics.output_up.set(0)
        log.warning("output unavailable: %s; reading paused, retrying with backoff", reason)

    def _failed(self, error: BaseException) -> None:
        self._failures += 1
        self.metrics.output_errors.inc()
        self.metrics.output_failures.labels(getattr(error, "reason", "other")).inc()
        reason = getattr(error, "reason", "other")
        if self._outage is None:
            self._begin(self.clock(), str(error) or type(error).__name__)
            self._causes = {reason}
        elif reason not in self._causes:  # the cause changed during the outage: say so, once
            self._causes.add(reason)
            log.warning("output still unavailable: %s", error)
        else:
            log.debug("attempt %d failed: %s", self._failures, error)
        self._tick()

    def _tick(self) -> None:
        if self._outage is not None:
            now = self.clock()
            self.metrics.backpressure_seconds.inc(max(0.0, now - self._mark))
            self._mark = now
        self.on_wait()

    def _recovered(self) -> None:
        if self._outage is not None:
            self._tick()
            log.warning(
                "output is back after %.1f s and %d failed attempts; reading resumes",
                self.clock() - self._outage,
                self._failures,
            )
            self._outage = None
            self._failures = 0
        self.metrics.output_up.set(1)


def _backoff(attempt: int, initial: float, cap: float) -> float:
    """Exponential backoff with jitter: a random delay in [d/2, d], d = min(cap, initial * 2**attempt)."""
    delay = min(cap, initial * (2 ** min(attempt, 32)))
    return random.uniform(delay / 2, delay)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
