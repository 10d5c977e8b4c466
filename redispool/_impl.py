"""The one place that picks the compiled or the pure-Python twins.

``REDISPOOL_NO_EXTENSIONS`` (any non-empty value) or a non-CPython interpreter forces the
pure twins; otherwise the compiled ones are used when they import. Type checkers always
see the annotated pure twins.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

NO_EXTENSIONS: bool = bool(os.environ.get("REDISPOOL_NO_EXTENSIONS")) or (
    sys.implementation.name != "cpython"
)

if TYPE_CHECKING:
    from ._pack_py import Packer, pack_command
    from ._reader_py import Reader
    from ._slots_py import SlotArray

    IMPLEMENTATION: str = "python"
elif NO_EXTENSIONS:
    from ._pack_py import Packer, pack_command
    from ._reader_py import Reader
    from ._slots_py import SlotArray

    IMPLEMENTATION = "python"
else:
    try:
        from ._pack_c import Packer, pack_command
        from ._reader_c import Reader
        from ._slots_c import SlotArray
    except ImportError:  # no compiler at install time: the pure twins behave the same
        from ._pack_py import Packer, pack_command
        from ._reader_py import Reader
        from ._slots_py import SlotArray

        IMPLEMENTATION = "python"
    else:
        IMPLEMENTATION = "cython"

# The command path reads through ``redispool.parsers``, which needs the Reader above.
if TYPE_CHECKING or IMPLEMENTATION == "python":
    from ._command_py import execute_command, pipeline_command, run_pipeline, run_transaction
else:
    from ._command_c import execute_command, pipeline_command, run_pipeline, run_transaction

# redis.asyncio's, the same way
if TYPE_CHECKING or IMPLEMENTATION == "python":
    from ._acommand_py import execute_command as async_execute_command
    from ._acommand_py import pipeline_command as async_pipeline_command
    from ._acommand_py import run_pipeline as async_run_pipeline
    from ._acommand_py import run_transaction as async_run_transaction
else:
    from ._acommand_c import execute_command as async_execute_command
    from ._acommand_c import pipeline_command as async_pipeline_command
    from ._acommand_c import run_pipeline as async_run_pipeline
    from ._acommand_c import run_transaction as async_run_transaction

__all__ = (
    "IMPLEMENTATION",
    "async_execute_command",
    "async_pipeline_command",
    "async_run_pipeline",
    "async_run_transaction",
    "NO_EXTENSIONS",
    "Packer",
    "Reader",
    "SlotArray",
    "pack_command",
    "pipeline_command",
    "execute_command",
    "run_pipeline",
    "run_transaction",
)
