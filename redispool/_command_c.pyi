"""Stub of the compiled twin of ``redispool._command_py`` (``src_c/_command_c.pyx``).

mypy checks it against ``redispool._protocols.ExecuteCommand``, ``PipelineCommand`` and
``RunPipeline``; ``make lint`` checks it against the built module with ``mypy.stubtest``.
"""

from typing import Any

__all__ = ("execute_command", "pipeline_command", "run_pipeline", "run_transaction")

def execute_command(client: Any, *args: Any, **options: Any) -> Any: ...
def pipeline_command(pipe: Any, *args: Any, **kwargs: Any) -> Any: ...
def run_pipeline(pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool) -> list[Any]: ...
def run_transaction(
    pipe: Any, conn: Any, commands: list[Any], raise_on_error: bool
) -> list[Any]: ...
