"""The redis-py range pyproject.toml declares is the one installed and the one CI tests:
its floor is pinned by a CI job (``redis==<floor>``), and the installed metadata agrees."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import redis
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def declared() -> Requirement:
    """The ``redis`` requirement in pyproject.toml's ``[project] dependencies``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [requirement] = [
        req for req in map(Requirement, project["dependencies"]) if req.name == "redis"
    ]
    return requirement


def floor(requirement: Requirement) -> Version:
    [spec] = [spec for spec in requirement.specifier if spec.operator == ">="]
    return Version(spec.version)


def test_ci_pins_the_floor() -> None:
    """A CI job runs the suite at exactly the declared floor, and no other pin hides it."""
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    pins = {Version(v) for v in re.findall(r"redis==([0-9][0-9a-z.]*)", workflow)}
    assert pins == {floor(declared())}


def test_installed_redis_is_in_the_declared_range() -> None:
    requirement = declared()
    assert requirement.specifier.contains(redis.__version__, prereleases=True), (
        f"redis-py {redis.__version__} is outside {requirement}"
    )


def test_installed_metadata_declares_the_same_range() -> None:
    """The installed redispool (wheel or editable) was built from this pyproject.toml."""
    installed = map(Requirement, metadata.requires("redispool") or ())
    ours = [req for req in installed if req.name == "redis" and req.marker is None]
    assert [str(req.specifier) for req in ours] == [str(declared().specifier)]
