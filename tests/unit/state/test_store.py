import logging

import numpy as np
import pytest

from monitor.state.snapshot import RestoreError, collect, pack_array, restore_all, unpack_array
from monitor.state.store import MAGIC, StateStore


class Counter:
    def __init__(self):
        self.n = 0

    def snapshot(self):
        return {"n": self.n}

    def restore(self, state):
        if not isinstance(state["n"], int):
            msg = "n is not an int"
            raise RestoreError(msg)
        self.n = state["n"]


def test_a_saved_state_reads_back_the_same(tmp_path):
    store = StateStore(tmp_path / "st", "run")
    parts = {"a": {"x": 1.5, "arr": pack_array(np.arange(6.0).reshape(2, 3))}, "b": {}}

    store.write(store.encode(parts, 123))
    doc = store.read()

    assert doc["saved_ns"] == 123
    assert doc["parts"]["a"]["x"] == 1.5
    assert np.array_equal(unpack_array(doc["parts"]["a"]["arr"]), np.arange(6.0).reshape(2, 3))
    assert [p.name for p in (tmp_path / "st").iterdir()] == ["run.state"]  # no tmp left


def test_a_missing_state_is_a_first_start(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert StateStore(tmp_path, "run").read() is None
    assert caplog.records == []


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not a liqmon state file"),
        (b"garbage\n", "not a liqmon state file"),
        (MAGIC + b"\x28\xb5\x2f\xfd broken", "corrupt"),
    ],
)
def test_a_corrupt_state_is_logged_in_one_line_and_ignored(tmp_path, caplog, data, why):
    store = StateStore(tmp_path, "run")
    store.path.write_bytes(data)

    with caplog.at_level(logging.WARNING):
        assert store.read() is None

    assert len(caplog.records) == 1
    assert why in caplog.records[0].getMessage()
    assert "\n" not in caplog.records[0].getMessage()


def test_a_truncated_state_is_ignored(tmp_path, caplog):
    store = StateStore(tmp_path, "run")
    data = store.encode({"a": {"x": list(range(1000))}}, 1)
    store.path.write_bytes(data[: len(data) // 2])

    with caplog.at_level(logging.WARNING):
        assert store.read() is None
    assert "corrupt" in caplog.text


def test_another_version_or_role_is_ignored(tmp_path, caplog, monkeypatch):
    store = StateStore(tmp_path, "run")
    monkeypatch.setattr("monitor.state.store.VERSION", 0)
    store.write(store.encode({}, 1))
    monkeypatch.undo()

    with caplog.at_level(logging.WARNING):
        assert store.read() is None
        assert "version 0" in caplog.text
        store.write(store.encode({}, 1))
        assert StateStore(tmp_path, "run").read() is not None
        (tmp_path / "aggregate.state").write_bytes(store.path.read_bytes())
        assert StateStore(tmp_path, "aggregate").read() is None
    assert "not a aggregate state" in caplog.text


def test_a_write_replaces_the_old_file_whole(tmp_path):
    store = StateStore(tmp_path, "run")
    store.write(store.encode({"a": {"v": 1}}, 1))
    store.write(store.encode({"a": {"v": 2}}, 2))

    assert store.read()["parts"] == {"a": {"v": 2}}


def test_restore_all_skips_parts_that_do_not_fit(caplog):
    good, bad, absent = Counter(), Counter(), Counter()
    good.n = 7
    saved = collect({"good": good})
    saved["bad"] = {"n": "seven"}

    with caplog.at_level(logging.WARNING):
        done = restore_all({"good": Counter(), "bad": bad, "absent": absent}, saved)

    assert done == ["good"]
    assert bad.n == 0
    assert "state of bad ignored: n is not an int" in caplog.text


def test_unpack_rejects_what_is_not_an_array():
    with pytest.raises(RestoreError):
        unpack_array({"dtype": "<f8"})
