"""Kill a running analysis at random times, again and again, checking the database after each.

Shared by the CI battery (tests/reliability/test_crashes.py, a few dozen kills) and
bench/soak.py (hundreds, on demand).
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

from tests.conftest import oracle
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
        oracle(db)
    final = harness(*args, config=config, db=db)
    assert final.returncode == 0, final.stderr
    # Every interrupted run was adopted and finished by the next one: nothing is left active,
    # and a new job was only ever started after the previous one had finished.
    assert one(db, "SELECT group_concat(DISTINCT status) FROM analysis_jobs")[0] == "succeeded"
    oracle(db)
    return outcomes


__all__ = ["facts", "soak"]
