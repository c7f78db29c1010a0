"""The dump's C allocator settings (allocator.py), observed through glibc's mallinfo2."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
import textwrap

import pytest

_PROBE = textwrap.dedent("""
    import ctypes, ctypes.util, sys
    from pystream_migrate.allocator import fix_mmap_threshold
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                    "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc.mallinfo2.restype = Info
    if sys.argv[1] == "fixed":
        assert fix_mmap_threshold()
    big = bytearray(8 << 20)  # mmapped; freed, it raises a moving threshold to 8 MB
    del big
    before = libc.mallinfo2().hblks
    kept = [bytearray(300 << 10) for _ in range(4)]  # above 256 kB, below 8 MB
    print(libc.mallinfo2().hblks - before)
""")


def _mmapped_blocks(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], check=True,
                         capture_output=True, text=True).stdout
    return int(out)


@pytest.mark.skipif(sys.platform != "linux" or ctypes.util.find_library("c") is None,
                    reason="needs glibc (Linux): the settings are glibc's mallopt")
def test_large_buffers_keep_pages_of_their_own_after_a_larger_one_is_freed() -> None:
    assert _mmapped_blocks("default") == 0  # glibc's moving threshold: into the heap
    assert _mmapped_blocks("fixed") == 4
