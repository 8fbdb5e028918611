"""Run the real console script the way a person does: on a pseudo-terminal.

``run_pty(...)`` starts ``stockscan`` (the installed console script, not ``python -m``) with a
new pty as its controlling terminal, stdin, stdout and stderr, at a given size and ``TERM``,
reads everything it writes until it exits, and replays those bytes through ``pyte`` (a VT100
emulator) so that a test can assert on what is on the screen at the end, as a person would
read it, and separately on the raw bytes (colour codes, cursor movement).

The pyte screen is much taller than the size the program is told: Rich's live display only
moves the cursor relative to where it is, so nothing the program wrote scrolls out of sight.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyte

STOCKSCAN = Path(sys.executable).parent / "stockscan"
CSI = "\x1b["


@dataclass
class PtyRun:
    code: int  # the exit status (negative: killed by that signal)
    raw: bytes  # every byte the program wrote to the terminal
    screen: list[str]  # the screen at the end, one string per line, trailing blanks dropped

    @property
    def text(self) -> str:
        """The screen as one string (the lines a person reads, in order)."""
        return "\n".join(self.screen)

    @property
    def decoded(self) -> str:
        return self.raw.decode("utf-8", "replace")

    @property
    def coloured(self) -> bool:
        """Whether any SGR sequence set a colour (bold and italic are not colours: NO_COLOR
        allows them, https://no-color.org)."""
        import re

        for params in re.findall(r"\x1b\[([0-9;]*)m", self.decoded):
            codes = [int(c) for c in params.split(";") if c]
            if any(30 <= c <= 49 or 90 <= c <= 107 for c in codes):
                return True
        return False


def terminal_env(*, term: str = "xterm-256color", no_color: bool = False) -> dict[str, str]:
    """The test process's environment (tests/conftest.py points HOME and the database into
    tmp_path) as a terminal session would have it: no COLUMNS/LINES override, so the program
    asks the pty for its size."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.pop("FORCE_COLOR", None)
    env["TERM"] = term
    env["LANG"] = env.get("LANG", "C.UTF-8")
    if no_color:
        env["NO_COLOR"] = "1"
    return env


def run_pty(
    *args: str,
    columns: int = 80,
    rows: int = 30,
    term: str = "xterm-256color",
    no_color: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    program: list[str] | None = None,
    on_output: Callable[[bytes, subprocess.Popen[bytes]], bool | None] | None = None,
) -> PtyRun:
    """Run ``stockscan ARGS`` on a fresh pty of ``columns`` x ``rows`` until it exits.

    ``program`` replaces the console script (e.g. the reliability harness); ``on_output`` is
    called with all output so far after each read, to act on the process mid-run (send it a
    signal once a line appears); when it returns True the terminal is closed there and then,
    as when a terminal window or an ssh session goes away (the kernel hangs up the session)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**terminal_env(term=term, no_color=no_color), **(env or {})}

    def controlling_tty() -> None:  # in the child, after setsid(): the pty is its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [*(program or [str(STOCKSCAN)]), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=full_env,
        start_new_session=True,
        preexec_fn=controlling_tty,
        close_fds=True,
    )
    os.close(slave)
    raw = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise TimeoutError(f"stockscan {' '.join(args)} ran for more than {timeout}s")
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if not ready:
                if proc.poll() is not None and not _pending(master):
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the slave side has closed it
                break
            if not chunk:
                break
            raw += chunk
            if on_output is not None and on_output(bytes(raw), proc):
                os.close(master)
                master = -1
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if master >= 0:
            os.close(master)
    return PtyRun(code, bytes(raw), render_screen(bytes(raw), columns))


def _pending(fd: int) -> bool:
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


def render_screen(raw: bytes, columns: int, rows: int = 1000) -> list[str]:
    """What a VT100 of that width shows after these bytes (a tall screen: nothing scrolls)."""
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    # A pty turns "\n" into "\r\n" (onlcr), so the bytes read back are what a terminal gets.
    stream.feed(raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def send(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """A signal to the program's process group, as the terminal's line discipline sends it."""
    os.killpg(proc.pid, sig)
