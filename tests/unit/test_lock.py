"""The install locks: what a fresh machine installs is exactly requirements/*.lock."""

import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")
_NOT_LOCKED = {"liqmon", "pip"}  # the project itself (editable) and the venv's own pip


def pins(path: Path) -> dict[str, str]:
    """Return {name: version} of the lock's pins whose markers hold on this interpreter."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m is None:
            continue
        name, version, marker = m.groups()
        if marker is None or Marker(marker).evaluate():
            out[canonicalize_name(name)] = version
    return out


def test_every_lock_pins_with_hashes():
    for path in LOCKS.glob("*.lock"):
        text = path.read_text(encoding="utf-8")
        entries = [line for line in text.splitlines() if _PIN.match(line)]
        assert entries, path
        assert text.count("--hash=sha256:") >= len(entries), path


def test_runtime_and_dev_locks_agree_on_every_shared_package():
    runtime, dev = pins(LOCKS / "runtime.lock"), pins(LOCKS / "dev.lock")
    assert runtime.keys() <= dev.keys()
    assert {k: dev[k] for k in runtime} == runtime


def test_the_lock_covers_every_dependency_range_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = pins(LOCKS / "dev.lock")
    for spec in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in dev, spec
        assert req.specifier.contains(dev[name], prereleases=True), (spec, dev[name])


def test_this_environment_is_exactly_the_dev_lock():
    """What `scripts/test` installed: every locked package at its version, nothing else."""
    stamp = Path(sys.prefix) / "liqmon-lock"
    if not stamp.exists():
        if os.environ.get("CI"):
            pytest.fail("CI runs in the .venv of scripts/venv.sh, which writes %s" % stamp)
        pytest.skip("this interpreter's environment was not made by scripts/venv.sh")
    assert stamp.read_text(encoding="utf-8").split()[0] == "requirements/dev.lock"
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name in _NOT_LOCKED:
        installed.pop(name, None)
    assert installed == pins(LOCKS / "dev.lock")


def test_every_installer_uses_a_lock():
    for script, lock in [
        ("scripts/test", "requirements/dev.lock"),
        ("scripts/run", "requirements/runtime.lock"),
        ("bench/run", "requirements/dev.lock"),
        ("bench/run_parsers.sh", "requirements/bench-cryptofeed.lock"),
        ("bench/run_windows.sh", "requirements/bench-windows.lock"),
    ]:
        assert lock in (ROOT / script).read_text(encoding="utf-8"), script
    assert "--require-hashes" in (ROOT / "scripts" / "venv.sh").read_text(encoding="utf-8")
