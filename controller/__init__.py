"""fogbank's domain core: queue, pipeline, git, docker and settings. Knows nothing about HTTP."""

import sys

# `import httpx` also imports httpx's own command line (httpx._main, with click, rich and
# pygments: about 6 MB of the server's memory) whenever those are installed, and typer installs
# them. No fogbank process runs httpx's command line: marked absent, httpx skips it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
