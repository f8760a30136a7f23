"""The interactive shell edits lines and remembers them, as a terminal user expects."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _read_until(
    fd: int, wanted: bytes, seen: bytearray, start: int = 0, timeout: float = 20.0
) -> None:
    """Read the terminal into `seen` until `wanted` appears after position `start`."""
    deadline = time.monotonic() + timeout
    while wanted not in seen[start:]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{wanted!r} not seen; got {bytes(seen[-2000:])!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen.extend(os.read(fd, 4096))
            except OSError:  # the child closed the terminal
                break


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_the_up_arrow_recalls_the_last_command_and_history_is_kept(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ACCORD_"))}
    env["TERM"] = "xterm"
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "shell", "--database", str(tmp_path / "s.db")],
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=tmp_path,
        env=env,
        close_fds=True,
    )
    os.close(child)
    seen = bytearray()
    try:
        _read_until(main, b"> ", seen)
        os.write(main, b"/accord whoami\r")
        _read_until(main, b"You can:", seen)
        _read_until(main, b"> ", seen, seen.index(b"You can:"))
        start = len(seen)
        os.write(main, b"\x1b[A\r")  # up arrow, then Enter: the same command again
        _read_until(main, b"You can:", seen, start)
        os.write(main, b":quit\r")
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    history = (tmp_path / "accord-shell.history").read_text()
    assert "/accord whoami" in history
