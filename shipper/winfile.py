"""Opening log files without getting in the writer's way.

On Windows, Python's ``open()`` asks for FILE_SHARE_READ | FILE_SHARE_WRITE only. While a shipper holds
such a handle, the SMS writer's rollover (rename ``X.log`` to ``X.lo_``, replacing the old ``X.lo_``) and
IIS's clean-up fail with a sharing violation: the shipper would break the thing it watches. So on Windows
the file is opened with ``CreateFileW`` through ctypes with FILE_SHARE_READ | FILE_SHARE_WRITE |
FILE_SHARE_DELETE, and the handle is wrapped in a C runtime file descriptor (``msvcrt.open_osfhandle``)
so the rest of the shipper uses ``os.read`` / ``os.fstat`` on every platform. With share-delete, a rename
of the open file succeeds and the handle keeps reading the renamed file, which is exactly how a rotated
file is drained to its end.

On POSIX systems renames and deletes never conflict with open handles, and a plain ``os.open`` is used.
``os.fstat`` gives the identity on both: device + inode on POSIX, volume serial number + file index on
Windows (Python fills ``st_dev`` / ``st_ino`` from GetFileInformationByHandle).
"""

from __future__ import annotations

import os
import sys

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    import msvcrt
    from ctypes import wintypes

    _GENERIC_READ = 0x80000000
    _SHARE_ALL = 0x00000001 | 0x00000002 | 0x00000004  # FILE_SHARE_READ | WRITE | DELETE
    _OPEN_EXISTING = 3
    _FILE_ATTRIBUTE_NORMAL = 0x80
    _INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _CreateFileW = _kernel32.CreateFileW
    _CreateFileW.argtypes = [
        wintypes.LPCWSTR,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.LPVOID,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.HANDLE,
    ]
    _CreateFileW.restype = wintypes.HANDLE
    _CloseHandle = _kernel32.CloseHandle
    _CloseHandle.argtypes = [wintypes.HANDLE]
    _CloseHandle.restype = wintypes.BOOL

    def open_shared(path: str) -> int:
        """Open ``path`` read-only with share read|write|delete; return a C runtime file descriptor."""
        handle = _CreateFileW(
            os.path.abspath(path),
            _GENERIC_READ,
            _SHARE_ALL,
            None,
            _OPEN_EXISTING,
            _FILE_ATTRIBUTE_NORMAL,
            None,
        )
        if handle is None or handle == _INVALID_HANDLE_VALUE:
            error = ctypes.get_last_error()
            raise OSError(0, ctypes.FormatError(error), path, error)
        try:
            return msvcrt.open_osfhandle(handle, os.O_RDONLY | os.O_BINARY)
        except OSError:
            _CloseHandle(handle)
            raise

    def pread(fd: int, size: int, offset: int) -> bytes:
        """Read ``size`` bytes at ``offset`` without moving the descriptor's position (no os.pread here)."""
        here = os.lseek(fd, 0, os.SEEK_CUR)
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            return os.read(fd, size)
        finally:
            os.lseek(fd, here, os.SEEK_SET)

else:

    def open_shared(path: str) -> int:
        """Open ``path`` read-only (POSIX: renames and deletes never conflict with an open descriptor)."""
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def pread(fd: int, size: int, offset: int) -> bytes:
        """Read ``size`` bytes at ``offset`` without moving the descriptor's position."""
        return os.pread(fd, size, offset)
