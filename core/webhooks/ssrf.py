"""No server-side request forgery: webhook URLs go to public addresses only, and to the one we checked.

A URL is checked when it is registered and again at every delivery: its host is resolved, every
address it resolves to must be global (not loopback, private, link-local, carrier-grade NAT,
multicast, reserved or a cloud metadata address), and the delivery then connects to the checked
address itself, sending the host name only in ``Host`` and TLS SNI. A DNS answer that changes
between the check and the connection (DNS rebinding) therefore cannot steer the request inside.
Redirects are never followed. ``WEBHOOKS_ALLOW_PRIVATE=1`` lifts the address rule for self-hosted
receivers and tests.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

from core.config import get_settings
from core.errors import ValidationError
from core.i18n import N_

MAX_URL_CHARS = 2048
#: Cloud metadata services: refused even with WEBHOOKS_ALLOW_PRIVATE (nothing self-hosted lives there).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("100.100.100.200")})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlRefused(ValidationError):
    """This URL cannot receive webhooks."""

    code = "webhook_url_refused"


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call the host."""

    scheme: str
    host: str
    port: int
    path: str  #: path and query, as sent in the request line
    address: str


def _refuse_address(ip: IPAddress, *, allow_private: bool) -> bool:
    if ip.version == 6 and ip.ipv4_mapped is not None:  # type: ignore[union-attr]
        ip = ip.ipv4_mapped  # type: ignore[union-attr]
    if ip in METADATA_ADDRESSES:
        return True
    if allow_private:
        return ip.is_multicast or ip.is_unspecified
    return not ip.is_global or ip.is_multicast


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        return [literal]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise WebhookUrlRefused(N_("The host {host} of the webhook URL could not be found."), host=host) from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, *, allow_private: bool | None = None) -> Target:
    """The URL as a Target with a checked address; WebhookUrlRefused says what is wrong with it."""
    if allow_private is None:
        allow_private = get_settings().webhooks_allow_private
    url = (url or "").strip()
    if len(url) > MAX_URL_CHARS:
        raise WebhookUrlRefused(N_("The webhook URL is too long (at most {limit} characters)."), limit=MAX_URL_CHARS)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRefused(N_("That is not a valid URL.")) from exc
    if parts.scheme not in ("https", "http"):
        raise WebhookUrlRefused(N_("The webhook URL must start with https:// or http://."))
    host = parts.hostname or ""
    if not host:
        raise WebhookUrlRefused(N_("The webhook URL has no host name."))
    if parts.username or parts.password:
        raise WebhookUrlRefused(N_("The webhook URL may not contain a user name or password."))
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not addresses:
        raise WebhookUrlRefused(N_("The host {host} of the webhook URL could not be found."), host=host)
    for ip in addresses:
        if _refuse_address(ip, allow_private=allow_private):
            raise WebhookUrlRefused(N_("The webhook URL points to a private, loopback, link-local or metadata address "
                                       "({address}). Webhooks are sent to public addresses only."), address=str(ip))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, while the socket goes to the checked address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float,
         max_response_bytes: int) -> tuple[int, bytes]:
    """POST to the checked address; returns the status and at most ``max_response_bytes`` of the answer."""
    conn: http.client.HTTPConnection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(max_response_bytes)
    finally:
        conn.close()
