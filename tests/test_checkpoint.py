"""The checkpoint's format and its checks, in process: what a resume trusts and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from bangwo8_async.export import checkpoint
from bangwo8_async.export.checkpoint import CheckpointError
from bangwo8_async.export.sinks import FileSink

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_format_is_version_2_and_reads_back_what_it_wrote() -> None:
    written = orjson.loads(checkpoint.dumps({"shape": {"what": "tasks"}, "rows": 3}))
    assert written == {"shape": {"what": "tasks"}, "rows": 3, "version": 2}
    saved = b'{"version": 2, "shape": {"what": "tasks"}, "rows": 3, "offset": 40}'
    assert checkpoint.loads(saved, "x.state.json")["offset"] == 40


def test_a_format_1_state_holds_rows_in_the_old_formats_and_is_refused() -> None:
    earlier = b'{"version": 1, "shape": {"what": "tasks"}, "rows": 3, "offset": 40}'
    with pytest.raises(CheckpointError, match="state format 1, this one reads 2"):
        checkpoint.loads(earlier, "x.state.json")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "is not a valid export state; run again with --restart"),
        (b"[1, 2]", "is not a valid export state; run again with --restart"),
        (b'{"version": 2}', "is not a valid export state; run again with --restart"),
        (b'{"version": 2, "shape": []}', "is not a valid export state; run again with --restart"),
        (b'{"version": 3, "shape": {}}', "state format 3, this one reads 2"),
        (b'{"shape": {}}', "state format None, this one reads 2"),
        (b'{"version": 2, "shape": {}, "rows": -1}', "is not a valid export state (rows)"),
        (b'{"version": 2, "shape": {}, "offset": "9"}', "is not a valid export state (offset)"),
    ],
)
def test_an_unusable_state_is_refused_naming_the_file_and_the_way_out(raw: bytes, why: str) -> None:
    with pytest.raises(CheckpointError) as info:
        checkpoint.loads(raw, "out.jsonl.state.json")
    message = str(info.value)
    assert message.startswith("out.jsonl.state.json ") and why in message
    assert "--restart" in message


def test_a_state_at_zero_rows_and_offset_is_valid() -> None:
    state = checkpoint.loads(b'{"version": 2, "shape": {}, "rows": 0, "offset": 0}', "s")
    assert (state["rows"], state["offset"]) == (0, 0)


def test_other_arguments_are_refused_naming_each_that_changed() -> None:
    saved: dict[str, Any] = {"what": "tasks", "per_page": 100, "status": None}
    checkpoint.check_shape(saved, dict(saved), "out.part")  # the same: accepted
    with pytest.raises(CheckpointError) as info:
        checkpoint.check_shape(saved, {**saved, "per_page": 50, "extra": 1}, "out.part")
    assert str(info.value) == (
        "a partial export in out.part was made with other arguments "
        "(extra=None, per_page=100); run it again with those, or add --restart to discard it"
    )


def test_identities_come_back_as_the_tuples_the_pages_compare() -> None:
    assert checkpoint.identity_keys([[1, None], 5, "a"]) == [(1, None), 5, "a"]


def test_writing_a_checkpoint_leaves_no_file_open(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    before = open_fds()
    for n in range(5):
        checkpoint.write_atomic(target, b"%d" % n)
        checkpoint.fsync_dir(target)
    assert open_fds() == before
    assert target.read_bytes() == b"4"


def test_a_long_export_keeps_one_file_open(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "o.jsonl", "jsonl", ["a"], excel=False)
    before = open_fds()
    sink.open({"what": "tasks"}, restart=False)
    for n in range(5):
        sink.commit([{"a": n}], {"rows": n + 1})
    assert open_fds() == before + 1  # the .part, nothing per page
    sink.finish({"rows": 5})
    assert open_fds() == before


def test_the_state_file_gets_the_umask_permissions_like_any_other(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        target = tmp_path / "s.json"
        checkpoint.write_atomic(target, b"{}")
        sink = FileSink(tmp_path / "o.jsonl", "jsonl", ["a"], excel=False)
        sink.open({"what": "tasks"}, restart=False)
        sink.commit([{"a": 1}], {"rows": 1})
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
        sink.close()
    finally:
        os.umask(mask)
    assert modes == {"s.json": 0o644, "o.jsonl.part": 0o644, "o.jsonl.state.json": 0o644}
