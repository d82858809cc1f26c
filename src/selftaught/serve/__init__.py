"""`selftaught serve`: a live, read-only view of the runs under a directory, in the browser.

    selftaught serve --runs-dir runs            # http://127.0.0.1:8765/
    selftaught run --serve                      # the same view beside a run, address printed

The pages are the report's own sections (`selftaught.report`: one set of view models and renderers),
refreshed as the runs commit; stores are opened read-only. Needs the optional extra
`selftaught[serve]` (Starlette and uvicorn), imported only when the view starts.
"""

from __future__ import annotations

from selftaught.serve.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    EXTRA_MISSING,
    beside_run,
    extra_installed,
    serve,
)

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "EXTRA_MISSING", "beside_run", "extra_installed", "serve"]
