"""The long crash soak: kill -9 / SIGINT / SIGTERM a running analysis at random times, hundreds
of times, checking the database's invariants after each and the final rows against a clean run.

Prints one JSON object. Usage: python bench/soak.py [--kills 200] [--tickers 300] [--seed 1]
[--yahoo] (run from the repository root; it uses the test harness in tests/reliability).
``--yahoo`` runs the real yahoo source, price cache and download threads over the harness's
fake market instead of the fake demo source.

``--attack NAME [--rounds 10]`` instead repeats one attack on "one owner per job" from outside
(tests/reliability/soak.py): ``symlink`` (four identical invocations, two through a symlink to
the database), ``hardlink`` (two jobs through two hard links to one file), ``lockdir`` (the
lock directory deleted under a live job, then an orphan sweep and the identical request),
``paused`` (the owner SIGSTOPped inside its write transaction, then the identical request),
``probes`` (threads probing a dead owner's liveness while the identical request adopts its
job), or ``all`` of them; it reports how many rounds broke.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.conftest import facts, harness  # noqa: E402
from tests.reliability.soak import ATTACKS, SOURCE, YAHOO, YAHOO_ARGS, attack, soak  # noqa: E402

# Long enough that every symlinked competitor starts while the first still runs.
ATTACK_TICKERS = {"symlink": 1500, "hardlink": 300, "lockdir": 300, "paused": 300, "probes": 300}


def run_attacks(names: list[str], rounds: int) -> None:
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            tickers = [f"A{i:05d}.NS" for i in range(ATTACK_TICKERS[name])]
            began = time.perf_counter()
            broken = attack(name, Path(tmp), rounds, tickers)
            report[name] = {
                "rounds": rounds,
                "broken": len(broken),
                "first_broken": broken[:3],
                "seconds": round(time.perf_counter() - began, 1),
            }
    print(json.dumps({"benchmark": "attacks on one owner per job", **report}, indent=2))
    if any(entry["broken"] for entry in report.values()):
        raise SystemExit("some rounds broke")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--tickers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--yahoo", action="store_true", help="the yahoo source and its threads")
    parser.add_argument("--attack", choices=[*ATTACKS, "all"], help="an attack, not the kills")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of --attack")
    args = parser.parse_args()
    if args.attack:
        run_attacks(list(ATTACKS) if args.attack == "all" else [args.attack], args.rounds)
        return
    tickers = [f"S{i:05d}.NS" for i in range(args.tickers)]
    source_args = YAHOO_ARGS if args.yahoo else ("--source", "demo")
    with tempfile.TemporaryDirectory() as tmp:
        clean_db = Path(tmp) / "clean.db"
        clean = harness(
            "analyze", *source_args, *tickers, config=YAHOO if args.yahoo else SOURCE, db=clean_db
        )
        assert clean.returncode == 0, clean.stderr
        db = Path(tmp) / "soak.db"
        began = time.perf_counter()
        outcomes = soak(db, tickers, kills=args.kills, seed=args.seed, yahoo=args.yahoo)
        seconds = time.perf_counter() - began
        same = facts(db) == facts(clean_db)
    print(
        json.dumps(
            {
                "benchmark": "crash soak (random signal at a random time, oracle after each)",
                "kills": args.kills,
                "tickers": args.tickers,
                "seed": args.seed,
                "source": "yahoo (fake market, 4 download threads)" if args.yahoo else "demo",
                "outcomes": dict(sorted(outcomes.items())),
                # soak() stops at the first broken invariant, so reaching here means all held
                "oracle_checks_passed": sum(outcomes.values()) + 1,
                "final_rows_equal_clean_run": same,
                "seconds": round(seconds, 1),
            },
            indent=2,
        )
    )
    if not same:
        raise SystemExit("final rows differ from a clean run")


if __name__ == "__main__":
    main()
