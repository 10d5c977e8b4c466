"""The public surface of each compiled module, as Protocols that both of its twins satisfy.

``redispool._impl`` picks the compiled or the pure twin of the Reader, the Packer, the
SlotArray and the command path (``execute_command``, ``pipeline_command``,
``run_pipeline``, ``run_transaction``) at import time; the rest of redispool (and its
users, through the public names) relies on what is described here. mypy (``make lint``)
checks the pure twins against these Protocols directly and the compiled ones through their
stubs (``_reader_c.pyi``, ``_pack_c.pyi``, ``_slots_c.pyi``, ``_command_c.pyi``), and
``make lint`` runs ``mypy.stubtest`` to check those stubs against the built modules: a
twin that loses or changes a member fails lint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    from ._pack_py import Chunk
    from .stats import PoolStats

#: ``pack_command(cmd)``: hiredis's, one RESP array of bulk strings.
PackCommand: TypeAlias = Callable[[tuple[Any, ...]], bytes]


class ReaderProtocol(Protocol):
    """``hiredis.Reader``'s API (``redispool.parsers`` feeds and reads it)."""

    def feed(self, buf: Any, off: int = 0, len: int = -1) -> None: ...  # noqa: A002
    def gets(self, shouldDecode: bool = True) -> Any: ...  # noqa: N803
    def has_data(self) -> bool: ...
    def len(self) -> int: ...
    def getmaxbuf(self) -> int: ...
    def setmaxbuf(self, maxbuf: int | None) -> None: ...
    def set_encoding(self, encoding: str | None = None, errors: str | None = None) -> None: ...


class ReaderClass(Protocol):
    """The Reader's constructor: hiredis's arguments, then redispool's limits."""

    def __call__(
        self,
        protocolError: Callable[[str], BaseException] = ...,  # noqa: N803
        replyError: Callable[[str], Any] = ...,  # noqa: N803
        encoding: str | None = None,
        errors: str | None = None,
        notEnoughData: Any = False,  # noqa: N803
        *,
        max_bulk_len: int = ...,
        max_depth: int = ...,
    ) -> ReaderProtocol: ...


class PackerProtocol(Protocol):
    """redis-py's ``command_packer``, with the reply ledger the pools and parsers keep."""

    owed: int
    demoted: bool
    fd: int

    @property
    def encoding(self) -> str: ...
    @property
    def errors(self) -> str: ...
    @property
    def buffer_cutoff(self) -> int: ...
    @property
    def dirty(self) -> bool: ...
    @property
    def lend_fd(self) -> int: ...
    def pack(self, *args: Any) -> list[Chunk]: ...
    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[Chunk]: ...
    def replied(self) -> None: ...
    def disconnected(self) -> None: ...


class PackerClass(Protocol):
    def __call__(
        self, encoding: str = ..., errors: str = ..., buffer_cutoff: int = ...
    ) -> PackerProtocol: ...


class SlotArrayProtocol(Protocol):
    """The pools' bookkeeping (``redispool.pool``, ``redispool.asyncio.pool``,
    ``redispool.views``); codes and flags are ``redispool.slot_codes``'."""

    @property
    def capacity(self) -> int: ...
    @property
    def fifo(self) -> bool: ...
    @property
    def forked(self) -> bool: ...
    @property
    def size(self) -> int: ...
    @property
    def idle_count(self) -> int: ...
    @property
    def busy_count(self) -> int: ...
    @property
    def waiters(self) -> int: ...
    def acquire(self) -> Any: ...
    def release(self, conn: Any, fd: int = ...) -> int: ...
    def checkout(self) -> tuple[int, Any]: ...
    def in_use(self, conn: Any) -> bool: ...
    def reserve(self) -> int: ...
    def renew(self, conn: Any) -> bool: ...
    def fill(self, slot: int, conn: Any) -> None: ...
    def cancel(self, slot: int) -> None: ...
    def remove(self, conn: Any) -> bool: ...
    def reap(self) -> list[Any]: ...
    def idle_connections(self) -> list[Any]: ...
    def busy_connections(self) -> list[Any]: ...
    def note_closed(self, conn: Any) -> None: ...
    def clear(self) -> list[Any]: ...
    def wait_begin(self) -> None: ...
    def wait_end(self, waited: float, timed_out: bool) -> None: ...
    def note_dirty(self) -> None: ...
    def stats(self) -> PoolStats: ...


class SlotArrayClass(Protocol):
    def __call__(
        self,
        capacity: int,
        *,
        fifo: bool = ...,
        check_after: float = ...,
        idle_timeout: float = ...,
        max_lifetime: float = ...,
        max_idle: int = ...,
        min_idle: int = ...,
    ) -> SlotArrayProtocol: ...


class ExecuteCommand(Protocol):
    """``execute_command``: ``redispool.client.Redis.execute_command``, fused."""

    def __call__(self, client: Any, *args: Any, **options: Any) -> Any: ...


class PipelineCommand(Protocol):
    """``pipeline_command``: ``redispool.client.Pipeline.execute_command``."""

    def __call__(self, pipe: Any, *args: Any, **kwargs: Any) -> Any: ...


class RunPipeline(Protocol):
    """``run_pipeline`` and ``run_transaction``: ``Pipeline._execute_pipeline`` and
    ``_execute_transaction`` (``redispool.client.Pipeline`` calls them)."""

    def __call__(
        self, pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool
    ) -> list[Any]: ...


class AsyncExecuteCommand(Protocol):
    """``execute_command`` of ``redispool.asyncio.Redis``: a coroutine function."""

    async def __call__(self, client: Any, *args: Any, **options: Any) -> Any: ...


class AsyncRunPipeline(Protocol):
    """``run_pipeline`` and ``run_transaction`` of ``redispool.asyncio.Pipeline``."""

    async def __call__(
        self, pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool
    ) -> list[Any]: ...


class LaneProtocol(Protocol):
    """A ``Lane``: the asyncio protocol that reads a connection's owed replies."""

    state: int
    poisoned: bool
    progress: float

    def attach(self, conn: Any) -> None: ...
    def detach(self) -> None: ...
    def accepting(self) -> bool: ...
    def arm(self) -> None: ...
    def parse(self) -> None: ...
    def pushed(self, task: Any) -> None: ...
    def expect(self, count: int) -> Any: ...
    def queue(self, chunks: Any, count: int) -> Any: ...
    def flush(self) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def quiet(self) -> None: ...
    def close(self) -> None: ...
    def abandon(self, error: Exception | None = None) -> None: ...
    def expire(self) -> None: ...
    def fail(self, error: BaseException) -> None: ...
    def connection_lost(self, exc: BaseException | None) -> None: ...
    def eof_received(self) -> bool | None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...


if TYPE_CHECKING:  # read by mypy, never run: each twin's instances, classes and functions
    from . import (
        _acommand_c,
        _acommand_py,
        _command_c,
        _command_py,
        _pack_c,
        _pack_py,
        _reader_c,
        _reader_py,
        _slots_c,
        _slots_py,
    )

    _readers: list[ReaderProtocol] = [_reader_c.Reader(), _reader_py.Reader()]
    _packers: list[PackerProtocol] = [_pack_c.Packer(), _pack_py.Packer()]
    _slot_arrays: list[SlotArrayProtocol] = [_slots_c.SlotArray(1), _slots_py.SlotArray(1)]
    _reader_c_class: ReaderClass = _reader_c.Reader
    _reader_py_class: ReaderClass = _reader_py.Reader
    _packer_c_class: PackerClass = _pack_c.Packer
    _packer_py_class: PackerClass = _pack_py.Packer
    _pack_command_c: PackCommand = _pack_c.pack_command
    _pack_command_py: PackCommand = _pack_py.pack_command
    _slot_array_c_class: SlotArrayClass = _slots_c.SlotArray
    _slot_array_py_class: SlotArrayClass = _slots_py.SlotArray
    _execute_command_c: ExecuteCommand = _command_c.execute_command
    _execute_command_py: ExecuteCommand = _command_py.execute_command
    _pipeline_command_c: PipelineCommand = _command_c.pipeline_command
    _pipeline_command_py: PipelineCommand = _command_py.pipeline_command
    _run_pipeline_c: RunPipeline = _command_c.run_pipeline
    _run_pipeline_py: RunPipeline = _command_py.run_pipeline
    _run_transaction_c: RunPipeline = _command_c.run_transaction
    _run_transaction_py: RunPipeline = _command_py.run_transaction
    _async_execute_command_c: AsyncExecuteCommand = _acommand_c.execute_command
    _async_execute_command_py: AsyncExecuteCommand = _acommand_py.execute_command
    _async_pipeline_command_c: PipelineCommand = _acommand_c.pipeline_command
    _async_pipeline_command_py: PipelineCommand = _acommand_py.pipeline_command
    _async_run_pipeline_c: AsyncRunPipeline = _acommand_c.run_pipeline
    _async_run_pipeline_py: AsyncRunPipeline = _acommand_py.run_pipeline
    _async_run_transaction_c: AsyncRunPipeline = _acommand_c.run_transaction
    _async_run_transaction_py: AsyncRunPipeline = _acommand_py.run_transaction
    _lanes: list[LaneProtocol] = [_acommand_c.Lane(None), _acommand_py.Lane(None)]
