"""Checkpoints: versioned JSON, atomic replacement, clear errors."""

from __future__ import annotations

import json
import os
import threading

import pytest

from shipper.checkpoint import FILE_NAME, VERSION, CheckpointEntry, Checkpointer
from shipper.errors import CheckpointError
from shipper.identity import FileIdentity


def entry(inode: int, offset: int) -> CheckpointEntry:
    identity = FileIdentity(2049, inode, 120, f"{inode:016x}")
    return CheckpointEntry(identity, offset, offset // 10 + 1, f"/logs/f{inode}.log", "utf-8", "sms", "t")


def test_round_trip(tmp_path):
    cp = Checkpointer(str(tmp_path))
    assert cp.load() == {}
    entries = {e.identity.key: e for e in (entry(1, 100), entry(2, 250))}
    assert cp.save(entries)
    loaded = Checkpointer(str(tmp_path)).load()
    assert loaded == entries
    data = json.loads((tmp_path / FILE_NAME).read_text())
    assert data["version"] == VERSION
    assert set(data["files"]) == set(entries)
    first = data["files"][entry(1, 100).identity.key]
    for name in ("offset", "line", "path", "encoding", "format", "updated"):
        assert name in first


def test_unchanged_content_is_not_rewritten(tmp_path):
    cp = Checkpointer(str(tmp_path))
    entries = {entry(1, 100).identity.key: entry(1, 100)}
    assert cp.save(entries)
    assert not cp.save(entries)
    assert cp.writes == 1


def test_unknown_version_is_a_clear_error(tmp_path):
    (tmp_path / FILE_NAME).write_text(json.dumps({"version": 99, "files": {}}))
    with pytest.raises(CheckpointError, match="version 99"):
        Checkpointer(str(tmp_path)).load()


def test_garbage_is_a_clear_error(tmp_path):
    (tmp_path / FILE_NAME).write_text('{"version": 1, "files": ')
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Checkpointer(str(tmp_path)).load()


def test_entry_with_missing_fields_is_a_clear_error(tmp_path):
    (tmp_path / FILE_NAME).write_text(json.dumps({"version": 1, "files": {"k": {"offset": 1}}}))
    with pytest.raises(CheckpointError, match="malformed"):
        Checkpointer(str(tmp_path)).load()


def test_a_crash_mid_write_leaves_the_previous_checkpoint(tmp_path):
    cp = Checkpointer(str(tmp_path))
    good = {entry(1, 100).identity.key: entry(1, 100)}
    cp.save(good)
    # what a crash between "write temp file" and "rename" leaves behind
    (tmp_path / ".checkpoint-crashed.tmp").write_text('{"version": 1, "files": {"half')
    assert Checkpointer(str(tmp_path)).load() == good
    assert not list(tmp_path.glob(".checkpoint-*.tmp"))  # stale temp files are cleaned up


def test_readers_never_see_a_partial_file(tmp_path):
    cp = Checkpointer(str(tmp_path))
    cp.save({})
    path = tmp_path / FILE_NAME
    stop = threading.Event()
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            raw = path.read_bytes()
            try:
                json.loads(raw)
            except ValueError:
                bad.append(raw.decode(errors="replace")[:80])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(150):
            cp.save({entry(i, n).identity.key: entry(i, n) for i in range(1, 40)})
    finally:
        stop.set()
        thread.join()
    assert bad == []
    assert Checkpointer(str(tmp_path)).load()[entry(1, 149).identity.key].offset == 149
    assert [name for name in os.listdir(tmp_path) if name != FILE_NAME] == []


def test_a_state_dir_that_is_a_file_is_a_clear_error(tmp_path):
    not_a_folder = tmp_path / "state"
    not_a_folder.write_text("a file, not a folder")
    with pytest.raises(CheckpointError, match="state"):
        Checkpointer(str(not_a_folder)).load()
