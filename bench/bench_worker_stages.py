"""CPU per record at each step of one ``mpwatch worker``'s code path, in this process, without Kafka or
Faust: what ``bench_worker`` cannot separate. The input is what ``bench_worker`` ships (a generated SMS
site-server log, through the real shipper with the ``file://`` output: the same wire messages as in the
topic); batches of ``--batch`` messages (default: the worker's ``batch_messages``) go through the
stages as ``streams.worker.app`` runs them.

Prints `name: value unit` lines (microseconds of CPU per shipped record, ``time.process_time``):

  worker_stages_records: N records (M wire messages, E events)
  stage1_decode_us: S               ``wire.decode``
  stage1_parse_us: S                ``wire.parse_records`` (the format's parser, on the worker)
  stage1_correlate_us: S            ``Correlator.feed_many``
  stage1_encode_us: S               events -> one JSON list per server per batch, correlator ``state()``
  stage2_decode_us: S               JSON lists -> ``Event.from_dict``, grouped by server
  stage2_apply_us: S                ``ServerState.apply``
  stage2_save_us: S                 ``ServerState.to_dict`` + orjson, once per server per batch
  stage2_summary_us: S              ``api.summary`` (health changes), once per server per batch
  worker_stages_total_us: S         the sum, and worker_stages_records_per_cpu_s = 1e6 / S: what one
                                    process could do if Kafka, Faust and the web server cost nothing

Options: --records N (default 200,000), --batch N. CPU time, not wall time: holds on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from gen_logs import generate  # noqa: E402
from shipper_support import host_correlator, result  # noqa: E402

from streams import api, wire  # noqa: E402
from streams.core.correlator import Correlator, FileRef  # noqa: E402
from streams.core.events import Event  # noqa: E402
from streams.core.reducer import ServerState  # noqa: E402
from streams.core.servers import canonical_server  # noqa: E402
from streams.store import wall_clock_us  # noqa: E402
from streams.worker.app import EVENTS_LIMIT, _json_lists  # noqa: E402
from streams.worker.settings import WorkerSettings  # noqa: E402
from tests.integration.shipper_proc import python_env, ship_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self.last = time.process_time()

    def __call__(self, name: str) -> None:
        now = time.process_time()
        self.spent[name] += now - self.last
        self.last = now


def shipped(work: Path, records: int) -> list[bytes]:
    target = work / "SERVER1" / "SMS" / "Logs" / "sitecomp.log"
    target.parent.mkdir(parents=True)
    log = generate("sms", target, lines=records)
    out = work / "wire.jsonl"
    command = ship_command(
        paths=[log.path], output=f"file://{out}", state_dir=work / "state", host="BENCH", once=True,
        log_level="warning",
    )  # fmt: skip
    subprocess.run(command, check=True, env=python_env(), cwd=REPO, stdout=subprocess.DEVNULL)
    return [line.rstrip(b"\n") for line in out.read_bytes().splitlines() if line.strip()]


def run(messages: list[bytes], batch: int) -> tuple[Counter[str], int, int]:
    clock = Clock()
    correlators: dict[str, Correlator] = {}
    states: dict[str, ServerState] = {}
    events_messages: list[bytes] = []
    n_records = n_events = 0
    gc.collect()
    clock.last = time.process_time()
    for start in range(0, len(messages), batch):
        events: list[Event] = []
        hosts: dict[str, Correlator] = {}
        for value in messages[start : start + batch]:
            shipped_batch = wire.decode(value)
            clock("stage1_decode_us")
            records = wire.parse_records(shipped_batch, lean=True)  # as the worker parses
            clock("stage1_parse_us")
            h = shipped_batch.header
            host = canonical_server(h.host) or "UNKNOWN"
            correlator = host_correlator(correlators, host)
            hosts[host] = correlator
            events.extend(correlator.feed_many(FileRef(h.file_id, h.name, h.kind), records))
            n_records += len(records)
            clock("stage1_correlate_us")
        n_events += len(events)
        by_server: dict[str, list[bytes]] = {}
        for ev in events:
            by_server.setdefault(ev.server, []).append(orjson.dumps(ev.to_dict()))
        for items in by_server.values():
            events_messages.extend(_json_lists(items, EVENTS_LIMIT))
        for correlator in hosts.values():
            orjson.dumps(correlator.state())
        clock("stage1_encode_us")
    for start in range(0, len(events_messages), batch):
        groups: dict[str, list[Event]] = {}
        for value in events_messages[start : start + batch]:
            items = [Event.from_dict(item) for item in orjson.loads(value)]
            groups.setdefault(items[0].server, []).extend(items)
        clock("stage2_decode_us")
        now = wall_clock_us()
        for server, items in groups.items():
            state = states.get(server) or states.setdefault(server, ServerState(server))
            applied = sum(1 for ev in items if state.apply(ev))
            clock("stage2_apply_us")
            if applied:
                orjson.dumps(state.to_dict())
                clock("stage2_save_us")
                if state.mp:
                    api.summary(state, now)
                    clock("stage2_summary_us")
    return clock.spent, n_records, n_events


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=WorkerSettings().batch_messages)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mpwatch-bench-worker-stages-") as tmp:
        messages = shipped(Path(tmp), args.records)
    spent, n_records, n_events = run(messages, args.batch)
    result("worker_stages_records", n_records, f"records ({len(messages)} wire messages, {n_events} events)")
    total = 0.0
    for name in (
        "stage1_decode_us", "stage1_parse_us", "stage1_correlate_us", "stage1_encode_us",
        "stage2_decode_us", "stage2_apply_us", "stage2_save_us", "stage2_summary_us",
    ):  # fmt: skip
        us = spent[name] * 1e6 / n_records
        total += us
        print(f"{name}: {us:.2f} us/record", flush=True)
    print(f"worker_stages_total_us: {total:.2f} us/record", flush=True)
    result("worker_stages_records_per_cpu_s", 1e6 / total, "records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
