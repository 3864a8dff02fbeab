"""The C allocator of a long-lived process: give freed memory back to the system. No Streamlit here.

glibc's malloc keeps what Python frees in its heaps for reuse. For the web process that meant a
40 MB upload left its decode and encode buffers resident for good (316 MB idle became 535 MB and
stayed; three uploads at once left about 900 MB): each thread that allocated got its own arena
(up to 8 per core), and after the first large buffer was freed glibc raised its mmap threshold
to that size, so the next ones came from the arenas and fragmented them.

``tune_allocator`` (once, at the web process's start) fixes the mmap threshold, so every buffer of
``MMAP_THRESHOLD_BYTES`` or more is its own mapping and goes back to the system when freed, and
caps the arenas. ``release_freed_memory`` (after a large image is done with) returns the free pages
in the middle of the heaps too. Both do nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

MMAP_THRESHOLD_BYTES = 1024 * 1024  # buffers this large or larger are mapped on their own and unmapped when freed
ARENA_MAX = 2  # malloc arenas; the default, 8 per core, multiplies what fragmentation keeps
_M_MMAP_THRESHOLD = -3  # mallopt parameters (glibc's malloc.h)
_M_ARENA_MAX = -8


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (present in glibc only)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache
def tune_allocator() -> bool:
    """Fix glibc's mmap threshold and cap its arenas for this process (once); False elsewhere."""
    libc = _glibc()
    if libc is None:
        return False
    done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(libc.mallopt(_M_ARENA_MAX, ARENA_MAX))
    if not done:
        log.warning("glibc refused the allocator settings; freed upload buffers may stay resident")
    return done


def release_freed_memory() -> None:
    """Give the free pages of every malloc heap back to the system (glibc's ``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
