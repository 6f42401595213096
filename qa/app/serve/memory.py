"""Keep the server's memory flat under load (glibc only; a no-op elsewhere).

Measured with tests/test_soak.py (20 clients, mixed questions): with glibc's defaults the app's RSS grew
~20 % in 3 minutes and kept growing. The engine alone, asked from a 40-thread pool as Gradio does, grew
~10 MB per 100 answers; asked from one thread it stayed flat. The cause is glibc's allocator, not a leak:
every worker thread gets its own malloc arena, and torch's temporary tensors (hundreds of KB) raise glibc's
dynamic mmap threshold so later ones come from those arenas and fragment them. `tune_malloc()` caps the arenas
at 2 and fixes the mmap threshold (large blocks go back to the system when freed); `start_trimmer()` returns
free heap pages every minute. Set REPORT_QA_MALLOC=default to keep glibc's own settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading

log = logging.getLogger("report_qa")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
_state: dict = {}


def _libc():
    if "libc" not in _state:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.mallopt.argtypes, lib.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
            _state["libc"] = lib if hasattr(lib, "malloc_trim") else None
        except (OSError, AttributeError):
            _state["libc"] = None
    return _state["libc"]


def tune_malloc(arenas: int = 2, mmap_threshold: int = 256 * 1024) -> bool:
    """Call before worker threads start. True when glibc took the settings."""
    if os.environ.get("REPORT_QA_MALLOC", "").lower() in ("default", "off", "0"):
        return False
    lib = _libc()
    if lib is None:
        return False
    ok = bool(lib.mallopt(M_ARENA_MAX, arenas)) and bool(lib.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
    lib.mallopt(M_TRIM_THRESHOLD, 4 * mmap_threshold)
    return ok


def trim() -> None:
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)


def start_trimmer(interval_s: float = 60.0) -> threading.Event | None:
    """A daemon thread that calls malloc_trim(0) every `interval_s`; set the returned event to stop it."""
    if _libc() is None or os.environ.get("REPORT_QA_MALLOC", "").lower() in ("default", "off", "0"):
        return None
    stop = threading.Event()

    def run():
        while not stop.wait(interval_s):
            trim()

    threading.Thread(target=run, name="report-qa-malloc-trim", daemon=True).start()
    return stop
