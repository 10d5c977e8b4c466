"""The release's version, from one place: redispool/__init__.py's ``__version__``.

``python .github/release.py check [--tag vX.Y.Z]`` fails unless CHANGELOG.md has a section
for that version (``## [X.Y.Z]`` or ``## X.Y.Z``, optionally followed by `` - date``)
with something in it and, given a tag, unless the tag is ``v`` plus that version; it
prints ``version=X.Y.Z`` (for $GITHUB_OUTPUT). ``python .github/release.py notes`` prints
that section's text: the release notes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION_RE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
HEADING_RE = re.compile(r"^## \[?([^\]\s]+)\]?(?:\s+-\s+.*)?$")


def version() -> str:
    found = VERSION_RE.findall((ROOT / "redispool" / "__init__.py").read_text())
    if len(found) != 1:
        sys.exit('redispool/__init__.py: expected exactly one __version__ = "..." line')
    return str(found[0])


def notes(ver: str) -> str:
    lines = (ROOT / "CHANGELOG.md").read_text().splitlines()
    start = None
    for i, line in enumerate(lines):
        m = HEADING_RE.match(line)
        if m and start is not None:
            return "\n".join(lines[start:i]).strip()
        if m and m.group(1) == ver:
            start = i + 1
    if start is None:
        sys.exit(f"CHANGELOG.md: no '## [{ver}]' section for __version__ {ver}")
    return "\n".join(lines[start:]).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check")
    check.add_argument("--tag", help="the git tag being released (vX.Y.Z)")
    sub.add_parser("notes")
    args = parser.parse_args()
    ver = version()
    text = notes(ver)
    if args.command == "notes":
        print(text)
        return
    if not text:
        sys.exit(f"CHANGELOG.md: the section for {ver} is empty")
    if args.tag is not None and args.tag != f"v{ver}":
        sys.exit(f"tag {args.tag!r} does not match __version__ {ver!r} (expected 'v{ver}')")
    print(f"version={ver}")


if __name__ == "__main__":
    main()
