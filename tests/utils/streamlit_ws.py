"""A Streamlit websocket client that speaks the protocol the way a browser tab (or an attacker) would.

The browser talks to ``streamlit run app.py`` over ``/_stcore/stream``: it sends ``BackMsg``
protobufs (from the streamlit package) that rerun the script with the widgets' values, and
receives ``ForwardMsg`` deltas. A browser field cannot type a line break into a one-line input,
but nothing stops a client from putting any string in a ``WidgetState``. ``StreamlitClient``
(blocking) does that in tests; ``AsyncStreamlitClient`` is the same tab for many at once in one
process (benchmarks/load.py, benchmarks/upload_memory.py), and it uploads files as the frontend's
``st.file_uploader`` does:

1. ``BackMsg.file_urls_request`` with the file names; the ``ForwardMsg.file_urls_response`` names
   an upload URL per file (``/_stcore/upload_file/<session id>/<file id>``);
2. an HTTP ``PUT`` of each file there (multipart, with the XSRF cookie and its ``X-Xsrftoken`` header);
3. a rerun whose widget state lists the uploaded files (``file_uploader_state_value``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

RUN_TIMEOUT_SECONDS = 60.0
XSRF_COOKIE = "_streamlit_xsrf"


@dataclass
class Run:
    """What one script run sent back: every element, by type, in order."""

    elements: list[tuple[str, Any]] = field(default_factory=list)
    status: int | None = None  #: ForwardMsg.ScriptFinishedStatus of the run's end
    page_not_found: bool = False
    seconds: float = 0.0  #: from the rerun sent to its script_finished

    def of(self, kind: str) -> list[Any]:
        return [e for k, e in self.elements if k == kind]

    def widget(self, kind: str, label: str) -> Any:
        found = [e for e in self.of(kind) if e.label == label]
        if not found:
            seen = [(k, getattr(e, "label", "")) for k, e in self.elements]
            raise LookupError(f"no {kind} labelled {label!r}; seen: {seen}")
        return found[0]

    def texts(self, kind: str) -> list[str]:
        return [getattr(e, "body", "") for e in self.of(kind)]

    @property
    def exceptions(self) -> list[Any]:
        """Exceptions the script raised and Streamlit drew (``st.exception`` elements)."""
        return self.of("exception")

    def feed(self, fwd: ForwardMsg) -> bool:
        """Take one ForwardMsg; True when it ends the run."""
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            which = element.WhichOneof("type")
            self.elements.append((str(which), getattr(element, str(which))))
        elif kind == "page_not_found":
            self.page_not_found = True
        elif kind == "script_finished":
            self.status = fwd.script_finished
            return True
        return False


def rerun_message(*, page_name: str = "", query_string: str = "", widgets: list[WidgetState] | None = None,
                  locale: str = "en-GB") -> bytes:
    """The BackMsg a browser sends to run the script with exactly these widget states."""
    msg = BackMsg()
    state = msg.rerun_script
    state.page_name = page_name
    state.query_string = query_string
    state.context_info.locale = locale
    state.context_info.timezone = "UTC"
    for w in widgets or []:
        state.widget_states.widgets.append(w)
    return msg.SerializeToString()


def _parse(data: bytes | str) -> ForwardMsg:
    fwd = ForwardMsg()
    fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
    return fwd


def _ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/_stcore/stream"


def _cookie_header(cookies: dict[str, str] | None) -> dict[str, str] | None:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else None


class StreamlitClient:
    """One browser tab's websocket, without a browser: ``run(page_name=..., widgets=[...])``."""

    def __init__(self, base_url: str, *, cookies: dict[str, str] | None = None) -> None:
        self.ws: ClientConnection = connect(_ws_url(base_url), subprotocols=["streamlit"],  # type: ignore[list-item]
                                            additional_headers=_cookie_header(cookies), open_timeout=30,
                                            max_size=None)

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> StreamlitClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, *, page_name: str = "", widgets: list[WidgetState] | None = None, locale: str = "en-GB") -> Run:
        """Rerun the script with exactly these widget states; returns once the run has finished."""
        self.ws.send(rerun_message(page_name=page_name, widgets=widgets, locale=locale))
        run = Run()
        while not run.feed(_parse(self.ws.recv(timeout=RUN_TIMEOUT_SECONDS))):
            pass
        return run


class AsyncStreamlitClient:
    """One browser tab on asyncio: ``await AsyncStreamlitClient.open(url, cookies=...)``, then ``run`` and
    ``upload``. Its HTTP side (uploads) shares the tab's cookies, Streamlit's XSRF cookie included."""

    _request_ids = itertools.count(1)

    def __init__(self, base_url: str, ws: Any, http: Any) -> None:
        self.base_url = base_url
        self.ws = ws
        self.http = http  # httpx.AsyncClient with the tab's cookies
        self.session_id = ""

    @classmethod
    async def open(cls, base_url: str, *, cookies: dict[str, str] | None = None,
                   timeout: float = RUN_TIMEOUT_SECONDS) -> AsyncStreamlitClient:
        import httpx
        from websockets.asyncio.client import connect as aconnect

        http = httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=timeout)
        try:
            # The frontend asks for Streamlit's health first; its answer sets the XSRF cookie that the
            # upload endpoint checks.
            (await http.get("/_stcore/health")).raise_for_status()
            all_cookies = {**(cookies or {}), **dict(http.cookies.items())}
            ws = await aconnect(_ws_url(base_url), subprotocols=["streamlit"],  # type: ignore[list-item]
                                additional_headers=_cookie_header(all_cookies), open_timeout=timeout,
                                max_size=None, ping_interval=None)
        except BaseException:
            await http.aclose()
            raise
        return cls(base_url, ws, http)

    async def close(self) -> None:
        try:
            await self.ws.close()
        finally:
            await self.http.aclose()

    async def _next(self, timeout: float) -> ForwardMsg:
        fwd = _parse(await asyncio.wait_for(self.ws.recv(), timeout))
        if fwd.WhichOneof("type") == "new_session" and fwd.new_session.initialize.session_id:
            self.session_id = fwd.new_session.initialize.session_id
        return fwd

    async def run(self, *, page_name: str = "", query_string: str = "", widgets: list[WidgetState] | None = None,
                  locale: str = "en-GB", timeout: float = RUN_TIMEOUT_SECONDS) -> Run:
        """Rerun the script; returns when it has finished for good (a run that calls ``st.rerun`` goes on
        into the next one, as the browser sees it). ``seconds``: rerun sent → last script_finished."""
        start = time.perf_counter()
        await self.ws.send(rerun_message(page_name=page_name, query_string=query_string, widgets=widgets,
                                         locale=locale))
        deadline = start + timeout
        run = Run()
        while True:
            if run.feed(await self._next(max(0.001, deadline - time.perf_counter()))):
                if run.status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    run.seconds = time.perf_counter() - start
                    return run
                run = Run()  # the script goes on in a new run; this page view is what the next one draws

    async def upload(self, files: list[tuple[str, bytes, str]], *,
                     timeout: float = RUN_TIMEOUT_SECONDS) -> FileUploaderState:
        """Upload ``(name, data, content type)`` files as the file uploader's frontend does; returns the
        widget value to send (``uploader_state``) in the next rerun."""
        msg = BackMsg()
        request_id = str(next(self._request_ids))
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.extend(name for name, _data, _type in files)
        await self.ws.send(msg.SerializeToString())
        deadline = time.perf_counter() + timeout
        while True:
            fwd = await self._next(max(0.001, deadline - time.perf_counter()))
            if fwd.WhichOneof("type") == "file_urls_response" and fwd.file_urls_response.response_id == request_id:
                break
        if fwd.file_urls_response.error_msg:
            raise RuntimeError(f"no upload URLs: {fwd.file_urls_response.error_msg}")
        state = FileUploaderState()
        xsrf = self.http.cookies.get(XSRF_COOKIE, "")
        for (name, data, content_type), urls in zip(files, fwd.file_urls_response.file_urls, strict=True):
            resp = await self.http.put(urls.upload_url, files={"file": (name, data, content_type)},
                                       headers={"X-Xsrftoken": xsrf})
            resp.raise_for_status()
            info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id)
            info.file_urls.CopyFrom(urls)
            state.uploaded_file_info.append(info)
        return state


def text(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def trigger(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)


def uploader_state(widget_id: str, value: FileUploaderState) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.file_uploader_state_value.CopyFrom(value)
    return state
