"""Regression tests for the adversarial review (issue: trust), against the real parts.

``web_server(**env)`` starts the real web process (``streamlit run app.py``, the st.App with
its HTTP routes) on a free port against a database the test chose, and stops it afterwards.
HTTP-level defects are tested through it; database races through ``db`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

# The plain-started web process lives in tests/utils/web_server.py and its fixture ``web_server`` in
# tests/conftest.py; the names stay importable from here for the tests that use them.
from tests.utils.web_server import ROOT, WebServer, start_web_server, stop_web_server

__all__ = ["ROOT", "WebServer", "start_web_server", "stop_web_server"]
