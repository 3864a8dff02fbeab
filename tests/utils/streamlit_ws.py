"""A Streamlit websocket client that speaks the protocol the way an attacker would.

The browser talks to ``streamlit run app.py`` over ``/_stcore/stream``: it sends ``BackMsg``
protobufs (from the streamlit package) that rerun the script with the widgets' values, and
receives ``ForwardMsg`` deltas. A browser field cannot type a line break into a one-line input,
but nothing stops a client from putting any string in a ``WidgetState``. This client does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

RUN_TIMEOUT_SECONDS = 60.0


@dataclass
class Run:
    """What one script run sent back: every element, by type, in order."""

    elements: list[tuple[str, Any]] = field(default_factory=list)

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


class StreamlitClient:
    """One browser tab's websocket, without a browser: ``run(page_name=..., widgets=[...])``."""

    def __init__(self, base_url: str, *, cookies: dict[str, str] | None = None) -> None:
        ws_url = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/_stcore/stream"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())} if cookies else None
        self.ws: ClientConnection = connect(ws_url, subprotocols=["streamlit"], additional_headers=headers,  # type: ignore[list-item]
                                            open_timeout=30, max_size=None)

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> StreamlitClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, *, page_name: str = "", widgets: list[WidgetState] | None = None, locale: str = "en-GB") -> Run:
        """Rerun the script with exactly these widget states; returns once the run has finished."""
        msg = BackMsg()
        state = msg.rerun_script
        state.page_name = page_name
        state.query_string = ""
        state.context_info.locale = locale
        state.context_info.timezone = "UTC"
        for w in widgets or []:
            state.widget_states.widgets.append(w)
        self.ws.send(msg.SerializeToString())
        run = Run()
        while True:
            data = self.ws.recv(timeout=RUN_TIMEOUT_SECONDS)
            fwd = ForwardMsg()
            fwd.ParseFromString(data if isinstance(data, bytes) else data.encode())
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                run.elements.append((str(which), getattr(element, str(which))))
            elif kind == "script_finished":
                return run


def text(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def trigger(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)
