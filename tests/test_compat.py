"""``redispool._compat``: every private name of redis-py and asyncio that redispool relies on
is listed there, exists here, and is named nowhere else without its entry.

The inventory test scans the package's source (its AST) for private attribute names
(``x._name``, ``getattr(x, "_name")``, a bare ``"_name"``, members and ``self._name`` of
classes built on redis-py's) and for imports from private modules, and sorts each one:

- redispool's own: ``self._name`` in a class built only on redispool's (and builtins);
  ``self._name`` in a class built on redis-py's whose redis-py bases have no such name
  (``self._slots`` in the pools: a name redis-py adds later fails the test); on any other
  object, a name redispool defines and neither redis-py nor asyncio uses anywhere
  (``conn._rp_packer``); and ``OWN_RECEIVERS``, the few accesses of a redispool object
  under a name that redis-py or asyncio also uses;
- listed: the name has an entry in ``_compat.NAMES`` (on ``self``, one whose owner is a
  base of the class, or the redis-py class it stands in for);
- anything else fails the test, with the line. Only ``_compat`` imports private modules.

``used_in`` must be exact: an entry naming a module that no longer uses the name fails too.
The Cython sources, which ``ast`` cannot read, are checked line by line.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
import warnings
from collections import defaultdict
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection as AsyncAbstractConnection
from redis.connection import AbstractConnection

import redispool
import redispool.asyncio
from redispool import _compat
from redispool.server import RedisServer
from redispool.slot_codes import NO_SOCKET

PACKAGE = Path(redispool.__file__).resolve().parent
SOURCES = Path(__file__).resolve().parents[1] / "src_c"  # the checkout's, also for a wheel

#: Accesses of a redispool object under a name redis-py or asyncio also uses somewhere:
#: (module, source of the access) -> why the object is redispool's.
OWN_RECEIVERS = {
    ("_slots_py", "array._lock"): "array is a redispool SlotArray (_arrays)",
    ("views", "pool._wait"): "pool is the redispool blocking pool a QueueView belongs to",
    ("_command_py", "parser._reader"): "parser is a redispool Parser (its type is checked)",
    ("_command_c", "parser._reader"): "parser is a redispool Parser (its type is checked)",
    ("_command_c", "parser._buffer"): "parser is a redispool Parser (its type is checked)",
}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_key(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


@cache
def package_trees() -> dict[str, ast.Module]:
    return {module_key(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def slot_names(stmt: ast.stmt) -> list[str]:
    """The names a class body's ``__slots__ = (...)`` declares."""
    if not (
        isinstance(stmt, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in stmt.targets)
        and isinstance(stmt.value, (ast.Tuple, ast.List))
    ):
        return []
    return [e.value for e in stmt.value.elts if isinstance(e, ast.Constant)]


IDENTIFIER = re.compile(r"_[A-Za-z]\w*")


def defined(tree: ast.Module, *, accessed: bool) -> set[str]:
    """Private names ``tree`` defines (functions, classes, attributes it assigns, module and
    class globals, ``__slots__``, import aliases); with ``accessed``, every private
    attribute name it reads too."""
    names: set[str] = set()
    scopes: list[list[ast.stmt]] = [tree.body]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                scopes.append(node.body)
        elif isinstance(node, ast.Attribute) and (accessed or isinstance(node.ctx, ast.Store)):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[-1])
    for body in scopes:
        for stmt in body:
            targets = (
                stmt.targets
                if isinstance(stmt, ast.Assign)
                else [stmt.target]
                if isinstance(stmt, ast.AnnAssign)
                else []
            )
            for target in targets:
                names.update(leaf.id for leaf in ast.walk(target) if isinstance(leaf, ast.Name))
            names.update(slot_names(stmt))
    return {name for name in names if private(name)}


@cache
def foreign_names() -> frozenset[str]:
    """Every private name that redis-py or asyncio defines or reads as an attribute."""
    names: set[str] = set()
    for package in (redis, asyncio):
        for path in Path(package.__file__).parent.rglob("*.py"):  # type: ignore[arg-type]
            names |= defined(ast.parse(path.read_text()), accessed=True)
    return frozenset(names)


@cache
def own_names() -> frozenset[str]:
    return frozenset(n for tree in package_trees().values() for n in defined(tree, accessed=False))


def hosts(cls: type) -> list[type]:
    """``cls`` and redispool's classes built on it: a mixin's members (``views.SlotViews``)
    override whatever the foreign bases of the classes it is mixed into define."""
    found, todo = [cls], list(cls.__subclasses__())
    while todo:
        sub = todo.pop()
        if sub.__module__.split(".")[0] == "redispool" and sub not in found:
            found.append(sub)
            todo.extend(sub.__subclasses__())
    return found


def foreign_bases(cls: type) -> list[type]:
    bases: list[type] = []
    for host in hosts(cls):
        for k in host.__mro__:
            if k.__module__.split(".")[0] not in ("redispool", "builtins") and k not in bases:
                bases.append(k)
    return bases


@cache
def base_names(cls: type) -> frozenset[str]:
    """The private names ``cls``'s redis-py (or other foreign) bases have: class members
    and the attributes their code assigns."""
    names: set[str] = set()
    for base in foreign_bases(cls):
        names.update(n for n in vars(base) if private(n))
        try:
            source = textwrap.dedent(inspect.getsource(base))
        except (OSError, TypeError):  # builtins
            continue
        names |= defined(ast.parse(source), accessed=False)
    return frozenset(names)


class Access:
    __slots__ = ("cls", "line", "module", "name", "on_self", "text")

    def __init__(
        self, module: str, node: ast.AST, name: str, text: str, cls: type | None, on_self: bool
    ) -> None:
        self.module, self.line, self.name, self.text = (
            module,
            getattr(node, "lineno", 0),
            name,
            text,
        )
        self.cls, self.on_self = cls, on_self

    def __repr__(self) -> str:
        return f"redispool/{self.module.replace('.', '/')}.py:{self.line}: {self.text}"


class Scanner(ast.NodeVisitor):
    """Collects the private attribute names a module reads, writes or defines: as
    attributes, in ``getattr``-like calls, as class members, and as bare strings that spell
    one (``_rebind(owner, "_name", ...)``, ``for name in ("_a", "_b")``). Type expressions
    (subscripts) and, in ``_compat``, the inventory and ``flags`` (which only name the
    entries) are not uses."""

    ACCESSORS = frozenset({"getattr", "hasattr", "setattr", "delattr"})
    NOT_USES = frozenset({"NAMES", "flags"})

    def __init__(self, key: str, module: ModuleType) -> None:
        self.key, self.module = key, module
        self.classes: list[Any] = []  # the runtime class of each enclosing class body
        self.selves: list[tuple[str, Any] | None] = [None]  # the method's self name, class
        self.accesses: list[Access] = []
        self.imports: list[tuple[ast.AST, str]] = []  # foreign private imports
        self.compat_uses: list[tuple[ast.AST, str]] = []  # names taken from _compat

    def add(self, node: ast.AST, name: str, text: str, receiver: ast.expr | None) -> None:
        scope = self.selves[-1]
        on_self = False
        cls = None
        if receiver is None:  # a definition in a class body
            cls, on_self = self.classes[-1], True
        elif isinstance(receiver, ast.Constant):  # a bare string: whose, unknown
            pass
        elif scope is not None and (
            (isinstance(receiver, ast.Name) and receiver.id == scope[0])
            or (
                isinstance(receiver, ast.Call)
                and isinstance(receiver.func, ast.Name)
                and receiver.func.id == "super"
            )
        ):
            cls, on_self = scope[1], True
        self.accesses.append(Access(self.key, node, name, text, cls, on_self))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        parent = self.classes[-1] if self.classes else self.module
        cls = getattr(parent, node.name, None)
        self.classes.append(cls)
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(stmt.name):
                self.add(stmt, stmt.name, f"def {stmt.name}", None)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name) and private(target.id):
                        self.add(stmt, target.id, f"{target.id} = ...", None)
                for name in slot_names(stmt):
                    if private(name):
                        self.add(stmt, name, f"__slots__: {name}", None)
        saved = self.selves
        self.selves = [None]  # a class body does not see the enclosing method's self
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.visit_method(stmt, cls)
            elif not slot_names(stmt):
                self.visit(stmt)
        self.selves = saved
        self.classes.pop()

    def visit_method(self, node: ast.FunctionDef | ast.AsyncFunctionDef, cls: Any) -> None:
        static = any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list
        )
        params = node.args.posonlyargs + node.args.args
        self.selves.append((params[0].arg, cls) if params and not static else None)
        for child in ast.iter_child_nodes(node):
            self.visit(child)
        self.selves.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == "_compat":
            self.compat_uses.append((node, node.attr))
        elif private(node.attr):
            self.add(node, node.attr, ast.unparse(node), node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in self.ACCESSORS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
        ):
            self.add(node, node.args[1].value, ast.unparse(node), node.args[0])
            for child in [node.func, node.args[0], *node.args[2:], *node.keywords]:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str) and IDENTIFIER.fullmatch(value) and private(value):
            self.add(node, value, repr(value), node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)  # the slice is a type expression or a key, not an attribute

    def visit_Assign(self, node: ast.Assign) -> None:
        if self.key == "_compat" and any(
            isinstance(t, ast.Name) and t.id in self.NOT_USES for t in node.targets
        ):
            return
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        target = node.target
        if self.key == "_compat" and isinstance(target, ast.Name) and target.id in self.NOT_USES:
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if self.key == "_compat" and node.name in self.NOT_USES:
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not alias.name.startswith("redispool") and any(
                private(p) for p in alias.name.split(".")
            ):
                self.imports.append((node, alias.name))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        if node.level and source.split(".")[-1] == "_compat":
            self.compat_uses.extend((node, alias.name) for alias in node.names)
        elif not node.level and not source.startswith("redispool"):
            hidden = any(private(p) for p in source.split("."))
            for alias in node.names:
                if hidden or private(alias.name) or (source, alias.name) in listed_pairs():
                    self.imports.append((node, f"{source}.{alias.name}"))


@cache
def listed_pairs() -> frozenset[tuple[str, str]]:
    return frozenset((e.owner, e.name) for e in _compat.NAMES)


def scan() -> list[Scanner]:
    import importlib

    scanners = []
    for key, tree in package_trees().items():
        name = "redispool" if key == "__init__" else "redispool." + key.removesuffix(".__init__")
        scanner = Scanner(key, importlib.import_module(name))
        scanner.visit(tree)
        scanners.append(scanner)
    return scanners


def applies(entry: _compat.Name, cls: type) -> bool:
    """Whether ``entry`` is about ``cls``: its owner is a base, or the redis-py class that
    ``cls`` stands in for (same name: redispool's blocking pools mirror redis-py's)."""
    owner = _compat.lookup(entry.owner)
    return any(
        owner in host.__mro__ or getattr(owner, "__name__", None) == host.__name__
        for host in hosts(cls)
    )


def classify(access: Access) -> str:
    """``own``, ``listed`` or why it is neither."""
    name, cls = access.name, access.cls
    if (access.module, access.text) in OWN_RECEIVERS:
        return "own"
    if access.on_self and cls is not None:
        if not foreign_bases(cls):
            return "own"
        if any(e.name == name and applies(e, cls) for e in _compat.NAMES):
            return "listed"
        if name in base_names(cls):
            return f"a private name of {cls.__name__}'s redis-py bases"
    elif name in {e.name for e in _compat.NAMES}:
        return "listed"
    elif name in foreign_names():
        return "a private name redis-py or asyncio also uses, on an object of unknown class"
    return "own" if name in own_names() else "a private name redispool does not define"


def test_every_private_name_goes_through_compat() -> None:
    """No private name of another library is named outside ``_compat.NAMES``, and no private
    module of one is imported outside ``_compat``."""
    problems = []
    for scanner in scan():
        for access in scanner.accesses:
            verdict = classify(access)
            if verdict not in ("own", "listed"):
                problems.append(f"{access!r}: {verdict}; list it in redispool._compat.NAMES")
        for node, name in scanner.imports:
            where = f"redispool/{scanner.key.replace('.', '/')}.py:{getattr(node, 'lineno', 0)}"
            if scanner.key != "_compat":
                problems.append(f"{where}: imports {name}; import it from redispool._compat")
            elif tuple(name.rsplit(".", 1)) not in listed_pairs():
                problems.append(f"{where}: imports {name}, which has no entry in NAMES")
    assert problems == []


def test_used_in_is_exact() -> None:
    """Each entry's ``used_in`` names exactly the modules that use the name (an entry
    outliving its last use, or a new module using it, fails)."""
    used: dict[str, set[str]] = defaultdict(set)
    listed = {e.name for e in _compat.NAMES}
    for scanner in scan():
        for access in scanner.accesses:
            if classify(access) == "listed":
                used[access.name].add(scanner.key)
        for _, name in scanner.compat_uses:  # redis-py's private module's, via _compat
            if name in listed:
                used[name].add(scanner.key)
    for module, _, _, name, text in pyx_accesses():
        if name in listed and (module, text) not in OWN_RECEIVERS:
            used[name].add(module)
    # a private module's name that _compat imports and uses itself (not only re-exports)
    loaded = {
        node.id
        for node in ast.walk(package_trees()["_compat"])
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    for entry in _compat.NAMES:
        if entry.name in loaded and inspect.ismodule(_compat.lookup(entry.owner)):
            used[entry.name].add("_compat")
    declared: dict[str, set[str]] = defaultdict(set)
    for entry in _compat.NAMES:
        declared[entry.name].update(entry.used_in)
    wrong = {
        name: {"used in": sorted(used[name]), "used_in says": sorted(declared[name])}
        for name in used.keys() | declared.keys()
        if used[name] != declared[name]
    }
    assert wrong == {}


def pyx_accesses() -> list[tuple[str, int, str, str, str]]:
    """``(module, line, owner, name, text)`` for each ``owner._name`` (not ``self`` or
    redispool's) and each quoted private name redis-py or asyncio uses (``getattr``) in
    the Cython sources, which the AST scan cannot read."""
    found = []
    for path in sorted(SOURCES.glob("*.pyx")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for match in re.finditer(r"(?<![\w.])([\w.]+)\.(_[A-Za-z]\w*)", code):
                owner, name = match.groups()
                if owner != "self" and not owner.startswith("redispool") and private(name):
                    found.append((path.stem, number, owner, name, match.group(0)))
            for match in re.finditer(r"""["'](_[A-Za-z]\w*)["']""", code):  # getattr(x, "_n")
                if match.group(1) in foreign_names():
                    found.append((path.stem, number, "", match.group(1), match.group(0)))
    return found


def test_compiled_sources_name_only_listed_private_names() -> None:
    """The Cython sources touch no one else's privates but those whose entry names them
    in ``used_in`` (a compiled twin reads what its pure twin reads), redispool's own names,
    or redispool's own objects' (``OWN_RECEIVERS``), and import no private module."""
    if not sorted(SOURCES.glob("*.pyx")):
        pytest.skip("no Cython sources beside these tests")
    users: dict[str, set[str]] = defaultdict(set)
    for entry in _compat.NAMES:
        users[entry.name].update(entry.used_in)
    problems = [
        f"{module}.pyx:{number}: {text}"
        for module, number, _, name, text in pyx_accesses()
        if module not in users[name]
        and (module, text) not in OWN_RECEIVERS
        and (name in foreign_names() or name not in own_names())
    ]
    for path in sorted(SOURCES.glob("*.pyx")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.match(r"\s*(from|import)\s+(?!redispool)\S*\._", code):
                problems.append(f"{path.name}:{number}: {code.strip()}")
    assert problems == []


def grafted(key: str, code: str, into: str | None = None) -> ast.Module:
    """Module ``key``'s tree with ``code`` added at its end, or at the end of class ``into``."""
    tree = package_trees()[key]
    extra = ast.parse(textwrap.dedent(code)).body
    if into is None:
        return ast.Module([*tree.body, *extra], [])
    body = [
        ast.ClassDef(**{**vars(s), "body": [*s.body, *extra]})
        if isinstance(s, ast.ClassDef) and s.name == into
        else s
        for s in tree.body
    ]
    return ast.Module(body, [])


@pytest.mark.parametrize(
    ("key", "code", "into", "caught"),
    [
        ("asyncio.fast_io", "def f(conn):\n    return conn._connect_callbacks\n", None, None),
        ("patch", "def f(cls):\n    return getattr(cls, '_socket_timeout')\n", None, None),
        ("asyncio.parser", "def _clear(self):\n    pass\n", "AsyncParser", "_clear"),
        ("parsers", "def f(self):\n    return self._read_response()\n", "Parser", None),
        ("pool", "def f(self):\n    return self._pool_id\n", "ConnectionPool", None),
        ("pool", "import redis._parsers.helpers\n", None, "redis._parsers.helpers"),
        ("pool", "from redis.asyncio.connection import async_timeout\n", None, "async_timeout"),
    ],
)
def test_the_scan_catches_a_new_private_name(
    key: str, code: str, into: str | None, caught: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan is not vacuous: a private name of redis-py read, set or overridden
    without an entry, or imported from a private module, is reported."""
    if caught is None:
        caught = re.findall(r"_[a-z_]+", code.split("\n")[1])[-1]
    monkeypatch.setitem(package_trees(), key, grafted(key, code, into))
    with pytest.raises(AssertionError, match=caught):
        test_every_private_name_goes_through_compat()


def test_the_scan_catches_a_dropped_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = tuple(e for e in _compat.NAMES if e.name != "_host_error")
    monkeypatch.setattr(_compat, "NAMES", entries)
    listed_pairs.cache_clear()
    try:
        with pytest.raises(AssertionError, match="_host_error"):
            test_every_private_name_goes_through_compat()
    finally:
        listed_pairs.cache_clear()


def test_used_in_catches_a_stale_module(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = tuple(
        e._replace(used_in=(*e.used_in, "patch")) if e.name == "_host_error" else e
        for e in _compat.NAMES
    )
    monkeypatch.setattr(_compat, "NAMES", entries)
    with pytest.raises(AssertionError, match="_host_error"):
        test_used_in_is_exact()


# ---- every name exists here ------------------------------------------------------------------


def test_nothing_is_missing() -> None:
    """Every entry resolves in the installed redis-py and this Python, every capability is
    on, and each entry says what happens without it (or that nothing can replace it)."""
    assert not _compat.MISSING
    assert _compat.flags(_compat.MISSING) == {
        "STREAM_PEEK": True,
        "FAST_IO": True,
        "RELEASE_SHORTCUT": True,
        "PACKER_HOOK": True,
        "COMMAND_PATH": True,
        "ASYNC_COMMAND_PATH": True,
    }
    assert (_compat.STREAM_PEEK, _compat.FAST_IO, _compat.RELEASE_SHORTCUT) == (True,) * 3
    assert _compat.stream_names() == {"_eof", "_buffer", "_waiter"}
    keys = [e.key for e in _compat.NAMES]
    assert len(keys) == len(set(keys))
    for entry in _compat.NAMES:
        assert _compat.lookup(entry.owner) is not None, entry
        assert entry.used_in, entry
        if entry.via:
            assert callable(_compat.lookup(entry.via)), entry


def test_resolution_sees_a_missing_name() -> None:
    """``has`` and ``present`` tell a missing name from one that is there, on classes built
    without it; a name redis-py's code no longer uses (``via``) counts as missing."""

    class Bare:
        def __init__(self) -> None:
            self._sock = None

    assert _compat.has(Bare, "_sock") and not _compat.has(Bare, "_command_packer")
    assert _compat.has(AbstractConnection, "_command_packer")  # set in __init__ only
    entry = next(e for e in _compat.NAMES if e.name == "_should_reconnect" and e.via)
    assert _compat.present(entry)
    assert not _compat.present(entry._replace(via=f"{entry.owner}.reset_should_reconnect_x"))
    assert not _compat.present(entry._replace(via="redis.connection.AbstractConnection.connect"))
    assert not _compat.present(entry._replace(owner="redis.connection.NoSuchClass"))


def test_stream_probe_sees_a_name_deleted_on_a_subclass() -> None:
    """An asyncio whose StreamReader keeps its buffer, or its waiter, under another name."""

    class NoBuffer(asyncio.StreamReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            del self._buffer

    class NoWaiter(asyncio.StreamReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pending = self.__dict__.pop("_waiter")

        def _wakeup_waiter(self) -> None:
            pass

    def flags(reader_class: type) -> dict[str, bool]:
        works = _compat.stream_names(reader_class)
        names = ("_eof", "_buffer", "_waiter")
        return _compat.flags({f"asyncio.StreamReader.{n}" for n in names if n not in works})

    assert _compat.stream_names(NoBuffer) == {"_waiter", "_eof"}
    assert flags(NoBuffer)["STREAM_PEEK"] is False and flags(NoBuffer)["FAST_IO"] is True
    assert _compat.stream_names(NoWaiter) == {"_buffer", "_eof"}
    assert flags(NoWaiter)["STREAM_PEEK"] is True and flags(NoWaiter)["FAST_IO"] is False


def test_a_missing_name_nothing_replaces_is_reported() -> None:
    required = next(e for e in _compat.NAMES if e.name == "_fork_lock")
    replaced = next(e for e in _compat.NAMES if e.name == "_host_error")
    assert required.without == "" and replaced.without
    with pytest.warns(
        RuntimeWarning, match=r"lacks: redis\.connection\.ConnectionPool\._fork_lock$"
    ):
        _compat.warn_required({required.key, replaced.key})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compat.warn_required({replaced.key})


def test_flags_follow_the_names() -> None:
    for entry in _compat.NAMES:
        flags = _compat.flags({entry.key})
        off = {flag for flag, on in flags.items() if not on}
        for flag in off:  # an entry that turns a flag off says so
            assert flag in entry.without, entry
        if not off:
            assert not any(flag in entry.without for flag in flags), entry


def test_sync_names(redis_server: RedisServer) -> None:
    """The names on live objects: a connection, its parser, the pool, its dispatcher."""
    pool = redispool.ConnectionPool.from_url(redis_server.url, protocol=3)
    conn = pool.get_connection()
    live = {
        "redis.connection.AbstractConnection": conn,
        "redis.connection.ConnectionPool": pool,
        "redis._parsers.base._RESPBase": conn._parser,
        "redis.event.EventDispatcher": pool._event_dispatcher,
    }
    for entry in _compat.NAMES:
        if entry.owner in live:
            assert hasattr(live[entry.owner], entry.name), entry
    assert _compat.sync_ledger(conn) is conn._command_packer is _compat.sync_packer(conn)
    assert _compat.sync_fd(conn) == conn._sock.fileno() == conn._command_packer.fd >= 0
    assert isinstance(pool._event_dispatcher._event_listeners_mapping, dict)
    handler = pool._maint_notifications_pool_handler
    assert handler.pool is pool
    assert pool.connection_kwargs["maint_notifications_pool_handler"] is handler
    assert isinstance(handler, redis.maint_notifications.MaintNotificationsPoolHandler)
    assert conn._maint_notifications_pool_handler.pool is pool  # the copy, as in redis-py
    for name in ("_maint_notifications_pool_handler", "_maint_notifications_connection_handler"):
        assert getattr(conn, name).connection is conn, name  # as redis-py wires them
    conn.update_parser_timeout(7.5)  # what a maintenance notice does
    assert conn._parser._buffer.socket_timeout == 7.5
    pool.release(conn)
    pool.disconnect()
    assert _compat.sync_fd(conn) == NO_SOCKET


def test_asyncio_names(redis_server: RedisServer) -> None:
    async def main() -> None:
        pool = redispool.asyncio.ConnectionPool.from_url(redis_server.url, protocol=3)
        conn: Any = await pool.get_connection()
        live = {
            "redis.asyncio.connection.AbstractConnection": conn,
            "redis.asyncio.connection.ConnectionPool": pool,
            "redis._parsers._AsyncRESP3Parser": conn._parser,
            "asyncio.StreamReader": conn._reader,
            "redis.event.EventDispatcher": pool._event_dispatcher,
        }
        for entry in _compat.NAMES:
            if entry.owner in live:
                assert hasattr(live[entry.owner], entry.name), entry
        assert isinstance(pool._event_dispatcher._event_listeners_mapping, dict)
        assert _compat.async_ledger(conn) is conn._rp_packer
        assert pool._maint_notifications_pool_handler.pool is pool
        assert conn._maint_notifications_pool_handler.pool is pool
        for name in (
            "_maint_notifications_pool_handler",
            "_maint_notifications_connection_handler",
        ):
            assert getattr(conn, name).connection is conn, name  # as redis-py wires them
        assert _compat.async_fd(conn) == conn._rp_packer.fd >= 0
        await pool.release(conn)
        await pool.disconnect()
        assert _compat.async_fd(conn) == NO_SOCKET

    asyncio.run(main())


def test_default_parsers() -> None:
    assert _compat.default_parsers() == (
        redis.connection.DefaultParser,
        aredis.connection.DefaultParser,
    )


def test_async_timeout_is_redis_pys() -> None:
    assert _compat.async_timeout is aredis.connection.async_timeout
    assert _compat._own_async_timeout() is aredis.connection.async_timeout


def test_cache_proxy_unwraps(redis_server: RedisServer) -> None:
    from redis.cache import CacheConfig

    if redis_server.version < (7, 4) or "valkey" in redis_server.binary:
        pytest.skip("redis-py's client-side caching needs Redis 7.4 or later")
    pool = redispool.ConnectionPool.from_url(
        redis_server.url, protocol=3, cache_config=CacheConfig()
    )
    conn = pool.get_connection()
    assert _compat.sync_ledger(conn) is conn._conn._command_packer
    pool.release(conn)
    pool.disconnect()


def test_subclassed_names_are_redis_pys() -> None:
    """The classes the fallbacks below build on are the ones the entries name."""
    assert issubclass(redispool.asyncio.AsyncParser, _compat._AsyncRESP3Parser)
    assert issubclass(redispool.Parser, _compat._RESP3Parser)
    assert AbstractConnection is _compat.lookup("redis.connection.AbstractConnection")
    assert AsyncAbstractConnection is _compat.lookup("redis.asyncio.connection.AbstractConnection")
