"""The worker's batch settings and the splitting of a server's events into messages, without a broker
(the Kafka suites run the batched stages themselves: tests/integration/test_worker.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.errors import WorkerError
from streams.worker.app import EVENTS_LIMIT, Worker, _json_lists
from streams.worker.settings import WorkerSettings, load_settings


def test_batch_settings_have_sane_defaults_and_are_validated(tmp_path: Path) -> None:
    s = WorkerSettings()
    assert s.batch_messages == 100 and s.batch_seconds == 0.02
    config = tmp_path / "worker.toml"
    config.write_text("batch_messages = 500\nbatch_seconds = 0.1\n")
    s = load_settings(str(config), environ={})
    assert (s.batch_messages, s.batch_seconds) == (500, 0.1)
    s = load_settings(str(config), {"batch_messages": 7}, environ={})
    assert s.batch_messages == 7
    for overrides, message in (
        ({"batch_messages": 0}, "batch_messages: must be >= 1"),
        ({"batch_seconds": 0.0}, "batch_seconds: must be > 0"),
        ({"batch_seconds": float("nan")}, "batch_seconds: must be > 0"),
    ):
        with pytest.raises(WorkerError, match=message):
            load_settings(None, overrides, environ={})
    config.write_text('batch_messages = "many"\n')
    with pytest.raises(WorkerError, match="batch_messages"):
        load_settings(str(config), environ={})


def test_the_stages_take_batches_of_the_configured_size(tmp_path: Path) -> None:
    worker = Worker(
        load_settings(
            None, {"store": "memory://", "data_dir": str(tmp_path), "batch_messages": 3}, environ={}
        )
    )
    calls = []

    class Stream:
        def take_events(self, max_: int, within: float) -> list[object]:
            calls.append((max_, within))
            return []

    worker._batches(Stream())
    assert calls == [(3, 0.02)]


def test_events_are_split_into_json_lists_under_the_limit() -> None:
    items = [orjson.dumps({"n": i, "text": "x" * (i % 7)}) for i in range(1000)]
    for limit in (50, 200, 4096, EVENTS_LIMIT):
        lists = list(_json_lists(items, limit))
        assert [item for value in lists for item in orjson.loads(value)] == [orjson.loads(i) for i in items]
        assert all(len(value) <= limit for value in lists)
    big = orjson.dumps({"text": "y" * 100})
    assert list(_json_lists([big], 10)) == [b"[" + big + b"]"]  # longer than the limit alone: sent alone
    assert list(_json_lists([], 10)) == []


async def test_undelivered_events_are_sent_again_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch's loop body must not raise on a refused send: Faust would ack the batch anyway."""
    import asyncio

    from streams.core.events import Event
    from streams.worker import app as worker_app

    monkeypatch.setattr(worker_app, "RETRY_FIRST_S", 0.01)
    worker = Worker(load_settings(None, {"store": "memory://", "data_dir": str(tmp_path)}, environ={}))
    sent: list[tuple[bytes, bytes]] = []
    refusals = [RuntimeError("broker away"), RuntimeError("still away")]

    class Topic:  # the events topic's send: refuses twice, then acknowledges
        async def send(self, key: bytes, value: bytes) -> asyncio.Future[None]:
            if refusals:
                raise refusals.pop(0)
            sent.append((key, value))
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

    worker.events = Topic()  # type: ignore[assignment]
    events = [Event("http_ok", server, 1_000_000 * i, "SRC", "f1", i) for i, server in enumerate("ABA")]
    await worker._send_events(events)
    assert "not delivered" in caplog.text and not refusals
    assert sorted(key for key, _ in sent) == [b"A", b"B"]
    for key, value in sent:
        assert [item["server"] for item in orjson.loads(value)] == [key.decode()] * (2 if key == b"A" else 1)
