"""Kill a running analysis at random times, again and again, checking the database after each.

Shared by the CI battery (tests/reliability/test_crashes.py, a few dozen kills) and
bench/soak.py (hundreds, on demand).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import claimed_job, oracle
from tests.reliability.conftest import facts, harness, one, start_harness

SOURCE: dict[str, object] = {"source": {}}
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)


# The real yahoo source, price cache and fetch-ahead pool over the harness's fake market.
YAHOO: dict[str, object] = {"yahoo": {"latency_s": 0.01}}
YAHOO_ARGS = ("--max-rps", "1000", "--fetch-workers", "4")


def soak(
    db: Path,
    tickers: list[str],
    kills: int,
    seed: int,
    max_delay: float = 0.6,
    *,
    yahoo: bool = False,
) -> Counter[str]:
    """Start ``analyze`` over ``tickers`` ``kills`` times, each time sending a random signal at
    a random moment after the job has started; check the oracle after every run; finish with
    one uninterrupted run. Returns how the runs ended. ``yahoo``: the yahoo source with its
    download threads, instead of the fake demo source."""
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    args = ["analyze", *(YAHOO_ARGS if yahoo else ("--source", "demo")), *tickers]
    config = YAHOO if yahoo else SOURCE
    runs: list[tuple[int, str]] = []
    for _ in range(kills):
        proc = start_harness(*args, config=config, db=db)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the job exists once this is printed
        if not first.startswith(("Started job", "Resuming job")):
            proc.kill()
            raise AssertionError(f"unexpected start {first!r}: {proc.communicate()[1]}")
        sig = rng.choice(SIGNALS)
        time.sleep(rng.uniform(0.0, max_delay))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        err = "".join(line for line in err.splitlines(True) if not line.startswith("HARNESS:"))
        code = proc.returncode
        runs.append((code, first + out))
        if code == 130 or (code in (-signal.SIGINT, -signal.SIGTERM) and err):
            # Interrupted: one line, no traceback. (Dying of the signal itself, -2 or -15, is
            # how a process reports an interrupt to its shell, which shows it as 130 or 143;
            # seen rarely, when the signal lands after the command has handled the first.)
            assert err.count("\n") == 1 and err.startswith("Error: interrupted"), err
        elif code in (-signal.SIGINT, -signal.SIGTERM):
            # A signal landing as the process exits: the work was finished and reported.
            assert " succeeded: " in out and not err, (code, out[-300:], err)
        else:
            assert code in (0, -signal.SIGKILL), (code, err)
        outcomes[f"{signal.Signals(sig).name}->{code}"] += 1
        oracle(db, dead_owners=code == -signal.SIGKILL)
    final = harness(*args, config=config, db=db)
    assert final.returncode == 0, final.stderr
    runs.append((final.returncode, final.stdout))
    # Every interrupted run was adopted and finished by the next one: nothing is left active,
    # and a new job was only ever started after the previous one had finished.
    assert one(db, "SELECT group_concat(DISTINCT status) FROM analysis_jobs")[0] == "succeeded"
    oracle(db, runs=runs)  # each job was taken over only from a dead owner
    return outcomes


__all__ = ["facts", "soak"]


# --- attacks on "one owner per job" from outside (bench/soak.py --attack, test_owner.py) ----

ATTACKS = ("symlink", "hardlink", "lockdir", "paused", "probes")


def _new_db(db: Path) -> None:
    made = harness("db", "migrate", config=SOURCE, db=db)
    assert made.returncode == 0, made.stderr


def symlink_round(tmp: Path, tickers: list[str], count: int = 4) -> str | None:
    """``count`` identical invocations started together, half of them through ``link.db ->
    real.db``. Broken (a description is returned) unless exactly one ran the job and the
    others exited 3."""
    real, link = tmp / "real.db", tmp / "link.db"
    _new_db(real)
    link.symlink_to(real)
    args = ("analyze", "--source", "demo", *tickers)
    procs = [
        start_harness(*args, config=SOURCE, db=real if i % 2 == 0 else link) for i in range(count)
    ]
    runs = [(p, *p.communicate(timeout=300)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in runs)
    workers = [p.pid for p, out, _ in runs if claimed_job(out) is not None]
    problems = []
    if len(workers) != 1 or codes != [0] + [3] * (count - 1):
        problems.append(f"{len(workers)} processes ran the job; exit codes {codes}")
    problems += _oracle_problems(real, runs=[(p.returncode, out) for p, out, _ in runs])
    return "; ".join(problems) or None


def _oracle_problems(db: Path, **kwargs: Any) -> list[str]:
    try:
        oracle(db, **kwargs)
    except AssertionError as exc:
        return [f"oracle: {exc}"[:300]]
    return []


def hardlink_round(tmp: Path, tickers: list[str]) -> str | None:
    """Two different jobs at once on one file through two hard links. Broken unless both are
    refused (exit 5, one ``Error:`` line) and the file stays whole."""
    first, second = tmp / "first.db", tmp / "second.db"
    _new_db(first)
    os.link(first, second)
    half = len(tickers) // 2
    procs = [
        start_harness("analyze", "--source", "demo", *part, config=SOURCE, db=db)
        for db, part in ((first, tickers[:half]), (second, tickers[half:]))
    ]
    runs = [(p, *p.communicate(timeout=300)) for p in procs]
    problems = []
    for p, _, err in runs:
        if p.returncode != 5 or err.count("\n") != 1 or not err.startswith("Error: "):
            problems.append(f"exit {p.returncode} {err[-200:]!r}")
    integrity = one(first, "PRAGMA integrity_check")[0]
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity[:100]}")
    return "; ".join(problems) or None


def lockdir_round(tmp: Path, tickers: list[str]) -> str | None:
    """While a job runs, ``rm -rf <db>.locks/`` (a cleanup script), then another request's job
    runs its orphan sweep, then the identical request is tried. Broken if the live job was
    marked interrupted or the identical request did not exit 3."""
    import shutil

    db = tmp / "stockscan.db"
    args = ("analyze", "--source", "demo", *tickers)
    owner = start_harness(*args, config={"source": {"hang_at": 3}}, db=db)
    try:
        assert owner.stderr is not None
        assert owner.stderr.readline() == "HARNESS: hanging\n"
        shutil.rmtree(f"{db}.locks", ignore_errors=True)
        other = harness("analyze", "--source", "demo", "OTHER.NS", config=SOURCE, db=db)
        again = harness(*args, config=SOURCE, db=db)
        status, pid, attempts = one(
            db, "SELECT status, owner_pid, attempts FROM analysis_jobs WHERE id = 1"
        )
        problems = []
        if other.returncode != 0:
            problems.append(f"the other request exited {other.returncode}: {other.stderr!r}")
        if (status, pid, attempts) != ("running", owner.pid, 1):
            problems.append(f"the live job became {status} (owner {pid}, attempts {attempts})")
        if again.returncode != 3:
            problems.append(f"the identical request exited {again.returncode}, not 3")
    finally:
        owner.send_signal(signal.SIGTERM)
        owner.communicate(timeout=60)
    problems += _oracle_problems(db)
    return "; ".join(problems) or None


def paused_round(tmp: Path, tickers: list[str], position: int = 2) -> str | None:
    """The owner stops itself (SIGSTOP) inside the write transaction of stock ``position``;
    the identical request is tried. Broken unless it exits 3 within two seconds."""
    db = tmp / "stockscan.db"
    args = ("analyze", "--source", "demo", *tickers)
    pause = {"checkpoint": "written", "position": position, "signal": "SIGSTOP"}
    owner = start_harness(*args, config={"source": {}, "crash": pause}, db=db)
    try:
        _wait_stopped(owner.pid)
        began = time.monotonic()
        again = harness(*args, config=SOURCE, db=db)
        took = time.monotonic() - began
    finally:
        owner.send_signal(signal.SIGCONT)
        owner.send_signal(signal.SIGTERM)
        owner.communicate(timeout=60)
    problems = _oracle_problems(db)
    if again.returncode != 3 or took > 2.0:
        problems.append(f"exit {again.returncode} after {took:.1f} s: {again.stderr.strip()!r}")
    return "; ".join(problems) or None


def probes_round(tmp: Path, tickers: list[str]) -> str | None:
    """The owner dies (kill -9) mid-job; while the identical request adopts the job, threads
    ask ``owner_alive`` about it as listings and maintenance commands do: one again and again,
    one preempted (as a loaded machine may) right after each locking call it makes, until the
    adopter is done. Broken unless the adopter runs the job (exit 0): a probe, even one stalled
    half-way, must never look like a live owner."""
    import fcntl
    import threading

    from stockscan.locks import owner_alive

    db = tmp / "stockscan.db"
    args = ("analyze", "--source", "demo", *tickers)
    crash = {"source": {}, "crash": {"checkpoint": "started", "position": 2}}
    killed = harness(*args, config=crash, db=db)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stop = threading.Event()
    seen: list[bool] = []
    stalled = threading.Thread(target=lambda: seen.append(owner_alive(db, 1)))
    real = {name: getattr(fcntl, name) for name in ("flock", "fcntl", "lockf")}

    def preempted(name: str) -> Any:
        def call(*call_args: Any) -> Any:
            answer = real[name](*call_args)
            if threading.current_thread() is stalled:
                stop.wait(120)  # descheduled here, holding whatever the call took
            return answer

        return call

    def probe() -> None:
        while not stop.is_set():
            seen.append(owner_alive(db, 1))

    readers = [threading.Thread(target=probe), stalled]
    for name in real:
        setattr(fcntl, name, preempted(name))
    try:
        for reader in readers:
            reader.start()
        adopter = harness(*args, config=SOURCE, db=db)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        for name, fn in real.items():
            setattr(fcntl, name, fn)
    problems = []
    if adopter.returncode != 0:
        problems.append(f"the adopter exited {adopter.returncode}: {adopter.stderr.strip()!r}")
    if len(seen) < 10:  # (once the adopter holds the job, they rightly see a live owner)
        problems.append(f"only {len(seen)} probes")
    runs = [(killed.returncode, killed.stdout), (adopter.returncode, adopter.stdout)]
    problems += _oracle_problems(db, runs=runs)
    return "; ".join(problems) or None


def _wait_stopped(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "T":
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} never stopped")


def attack(name: str, tmp: Path, rounds: int, tickers: list[str]) -> list[str]:
    """Run ``rounds`` rounds of one attack, each in a fresh directory under ``tmp``; return
    the descriptions of the broken ones."""
    fn = {
        "symlink": symlink_round,
        "hardlink": hardlink_round,
        "lockdir": lockdir_round,
        "paused": paused_round,
        "probes": probes_round,
    }[name]
    broken = []
    for round_ in range(rounds):
        where = tmp / f"{name}-{round_}"
        where.mkdir()
        problem = fn(where, tickers)
        if problem:
            broken.append(f"round {round_}: {problem}")
    return broken
