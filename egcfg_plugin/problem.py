"""Import shim, kept for one release: `Problem`, `FUNCTION` and `STDIO` now live in
`task_adapters.base`, the adapters' contract."""
from task_adapters.base import FUNCTION, STDIO, Problem

__all__ = ["FUNCTION", "STDIO", "Problem"]
