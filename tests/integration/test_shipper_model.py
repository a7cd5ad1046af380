"""Model-based tests: random write / partial write / rollover / truncate / delete / restart sequences.

The model knows which lines exist in which file. Two machines drive the real shipper:

* ``OnceModel``: each ``ship`` step is a restart, one ``--once`` run from the checkpoint;
* ``LiveModel``: a live shipper (watchdog, timers) runs while the files change; ``sync`` waits until it
  caught up, ``restart`` stops it gracefully and starts a new one from the checkpoint.

Whenever the shipper has caught up, every complete line that exists must have been delivered; lines that
were truncated, deleted or overwritten before they were read may be missing. Nothing may be delivered
that was never written, and nothing twice: the file output never fails, so at-least-once must here be
exactly-once.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.shipper_harness import (
    SMS_TRAILER,
    BackgroundShipper,
    make_config,
    read_output,
    ship_once_async,
)

NAMES = ("SiteComp.log", "MPControl.log")
MARKER = re.compile(r"\b[a-z]\d+\b")


@dataclass
class FileModel:
    complete: list[str] = field(default_factory=list)  # markers of complete physical lines
    partial: str | None = None  # marker of an unterminated last line


class FilesModel(RuleBasedStateMachine):
    """The file operations and the delivery check shared by both machines."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="mpwatch-model-"))
        self.config = make_config(self.root)
        self.logs = self.root / "logs"
        self.live: dict[str, FileModel] = {}
        self.rotated: dict[str, FileModel] = {}
        self.written: set[str] = set()
        self.required: set[str] = set()
        self.counter = 0

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _marker(self, prefix: str) -> str:
        self.counter += 1
        marker = f"{prefix}{self.counter}"
        self.written.add(marker)
        return marker

    @rule(
        name=st.sampled_from(NAMES),
        count=st.integers(1, 30),
        continuation=st.booleans(),
        end_partial=st.booleans(),
    )
    def write(self, name: str, count: int, continuation: bool, end_partial: bool) -> None:
        model = self.live.setdefault(name, FileModel())
        parts: list[str] = []
        if model.partial is not None:
            parts.append(f"  {SMS_TRAILER}\r\n")  # completes the partial line
            model.complete.append(model.partial)
            model.partial = None
        for _ in range(count):
            marker = self._marker("r")
            parts.append(f"{marker}  {SMS_TRAILER}\r\n")
            model.complete.append(marker)
        if continuation:  # a physical line without trailer: continues the next record
            marker = self._marker("c")
            parts.append(f"{marker} continued\r\n")
            model.complete.append(marker)
        if end_partial:
            model.partial = self._marker("p")
            parts.append(model.partial)
        with open(self.logs / name, "a", newline="") as handle:
            handle.write("".join(parts))

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def rollover(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.live)))
        os.replace(self.logs / name, self.logs / (name[:-4] + ".lo_"))
        model = self.rotated[name] = self.live.pop(name)
        if model.partial is not None:  # the writer is done with it: its last line is shipped as it is
            model.complete.append(model.partial)
            model.partial = None

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.live)))
        with open(self.logs / name, "r+") as handle:
            handle.truncate(0)
        self.live[name] = FileModel()

    @precondition(lambda self: bool(self.live) or bool(self.rotated))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        choices = [("live", n) for n in sorted(self.live)] + [("rotated", n) for n in sorted(self.rotated)]
        where, name = data.draw(st.sampled_from(choices))
        if where == "live":
            os.unlink(self.logs / name)
            del self.live[name]
        else:
            os.unlink(self.logs / (name[:-4] + ".lo_"))
            del self.rotated[name]

    def present(self) -> set[str]:
        """Markers of every complete line in the files that exist now."""
        return {m for model in (*self.live.values(), *self.rotated.values()) for m in model.complete}

    def delivered(self) -> Counter[str]:
        envelopes = read_output(self.config)
        ids = Counter(e["id"] for e in envelopes)
        assert [i for i, n in ids.items() if n > 1] == [], "a record id was delivered twice"
        return Counter(m for e in envelopes for m in MARKER.findall(e["record"]["raw"]))

    @invariant()
    def delivered_matches_the_model(self) -> None:
        delivered = self.delivered()
        assert [m for m, n in delivered.items() if n > 1] == [], "a line was delivered twice"
        assert set(delivered) <= self.written, "delivered something never written"
        missing = self.required - set(delivered)
        assert not missing, f"lost lines: {sorted(missing)[:10]}"


class OnceModel(FilesModel):
    @rule()
    def ship(self) -> None:
        """Restart the shipper: one --once run from the checkpoint."""
        asyncio.run(ship_once_async(self.config))
        self.required |= self.present()


class LiveModel(FilesModel):
    def __init__(self) -> None:
        super().__init__()
        self.shipper = BackgroundShipper(self.config).start()

    def teardown(self) -> None:
        try:
            self.shipper.stop()
        finally:
            super().teardown()

    @rule()
    def sync(self) -> None:
        """Wait until the live shipper delivered every complete line that exists now."""
        expected = self.present()
        self.shipper.wait_until(lambda: expected <= set(self.delivered()), "the shipper caught up", 20)
        self.required |= expected

    @rule()
    def restart(self) -> None:
        """Graceful stop (what was read is sent and checkpointed), then a new shipper."""
        self.shipper.stop()
        self.shipper = BackgroundShipper(self.config).start()


_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
OnceModel.TestCase.settings = settings(_SETTINGS, max_examples=50, stateful_step_count=16)
LiveModel.TestCase.settings = settings(_SETTINGS, max_examples=25, stateful_step_count=16)
TestOnceModel = OnceModel.TestCase
TestLiveModel = LiveModel.TestCase
