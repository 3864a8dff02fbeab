"""``streamlit run`` with every script run profiled (cProfile), for finding where a page run's time goes.

    .venv/bin/python -m benchmarks.profiled_web OUT.prof run app.py [streamlit options]
    .venv/bin/python -m benchmarks.load --profile OUT.prof     (starts the web process this way)

Each script run executes on its own thread, which a process-wide ``python -m cProfile`` never sees:
this wraps Streamlit's ``ScriptRunner._run_script`` in a profiler per run and adds every run's
figures to one ``pstats`` file, written every few seconds (read it with ``python -m pstats OUT.prof``).
The app itself is unchanged.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
from typing import Any

DUMP_EVERY_SECONDS = 3.0


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web.cli import main as streamlit_main

    original = script_runner.ScriptRunner._run_script
    lock = threading.Lock()
    state: dict[str, Any] = {"stats": None, "dumped": time.monotonic()}

    def _run_script(self: Any, rerun_data: Any) -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            original(self, rerun_data)
        finally:
            profile.disable()
            with lock:
                if state["stats"] is None:
                    state["stats"] = pstats.Stats(profile)
                else:
                    state["stats"].add(profile)
                if time.monotonic() - state["dumped"] > DUMP_EVERY_SECONDS:
                    state["stats"].dump_stats(out)
                    state["dumped"] = time.monotonic()

    script_runner.ScriptRunner._run_script = _run_script  # type: ignore[method-assign]
    sys.argv = ["streamlit", *argv]
    streamlit_main()


if __name__ == "__main__":
    main()
