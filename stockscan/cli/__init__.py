"""The command line: thin commands that parse, call the core, render and exit.

``app`` lives in ``stockscan.cli.common`` with what every command shares (the options several
take are in ``stockscan.cli.options``, and what they print in ``stockscan.render``); each
command group has its own module, which registers its commands when imported. A run imports
only the module of the command it runs (Typer builds every registered command's parameters at
start-up, which would cost a read command ~20 ms for the other thirty); ``from stockscan.cli
import app`` gets every command, for help and for tests.
"""

from __future__ import annotations

import importlib
import sys

import typer

# Each top-level command or group, and the modules that register it and its subcommands: the
# one table of which module holds what.
COMMANDS: dict[str, tuple[str, ...]] = {
    "analyze": ("analyze",),
    "scan": ("scan",),
    "cron": ("scan",),
    "watchlist": ("watchlist",),
    "results": ("results", "changes"),
    "report": ("report",),
    "screen": ("screen",),
    "jobs": ("jobs",),
    "db": ("db",),
}
# Every command module, by name: the order of their registrations is the order of
# `stockscan --help`.
MODULES = tuple(sorted({module for modules in COMMANDS.values() for module in modules}))
# The main callback's options (stockscan.cli.common.main_callback) that may come before the
# command; none takes a value. main() also takes them anywhere after it (`jobs show 9 --debug`).
GLOBAL_FLAGS = ("--debug",)


def register(command: str | None = None) -> typer.Typer:
    """The app with ``command``'s modules imported, or every module for None or a name that
    is not a command (so Typer's help and its "No such command" see them all)."""
    for module in COMMANDS.get(command or "", MODULES):
        importlib.import_module(f"stockscan.cli.{module}")
    from stockscan.cli.common import app

    return app


def command_of(args: list[str]) -> str | None:
    """The command named by a command line's arguments: the first that is not a global flag.
    None when an option comes first (``--help``, ``--version``): that needs every command."""
    for arg in args:
        if arg in GLOBAL_FLAGS:
            continue
        return None if arg.startswith("-") else arg
    return None


def __getattr__(name: str) -> object:
    if name == "app":  # `from stockscan.cli import app`: the whole command line
        return register()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def hoist_global_flags(args: list[str]) -> list[str]:
    """The command line with every global flag moved to the front, where Typer takes it: a
    user adds ``--debug`` at the end of the command that failed. After ``--`` nothing moves."""
    end = args.index("--") if "--" in args else len(args)
    flags = [arg for arg in args[:end] if arg in GLOBAL_FLAGS]
    rest = [arg for arg in args[:end] if arg not in GLOBAL_FLAGS]
    return list(dict.fromkeys(flags)) + rest + args[end:]


def main() -> None:
    from stockscan import render, signals
    from stockscan.errors import EXIT_OUTPUT_FAILED

    signals.ignore_stray()  # SIGUSR1 and SIGUSR2 (stockscan.signals)
    # Output that fails (a closed pipe, a full disk) is recorded, not raised into the work.
    render.guard_streams()
    args = hoist_global_flags(sys.argv[1:])
    code: object = 0
    try:
        app = register(command_of(args))
        try:
            # Not standalone: Typer's usage errors come here, to be printed in the program's
            # one error style rather than in a Rich box with pydantic's wording.
            code = app(args, prog_name="stockscan", standalone_mode=False)
        except typer.TyperException as exc:  # Typer's copy of Click's UsageError and kin
            code = _usage_error(exc, _command_path(app, args))
        except SystemExit as exc:
            code = exc.code
        except render.OutputClosed:
            code = 0  # the reader is done (`| head`): so are we, quietly
        except render.OutputFailed:
            code = EXIT_OUTPUT_FAILED
    finally:
        # The command is over and its work committed: a Ctrl-C or SIGTERM landing while the
        # interpreter shuts down must not kill it before stdout is flushed, losing the
        # summary and turning a finished run into a "killed by signal" exit status.
        signals.ignore_interrupts()
    # Not standalone, a typer.Exit's code is returned; the commands themselves return None.
    exit_code = code if isinstance(code, int) else 0
    failure = render.finish_output()
    if failure is not None:
        render.error(failure)
        # A job that also had failures keeps its own code: it says more than the output.
        if exit_code == 0:
            exit_code = EXIT_OUTPUT_FAILED
    sys.exit(exit_code)


def _command_path(app: typer.Typer, args: list[str]) -> str:
    """``stockscan jobs list`` for ``jobs list --limit``: the command and, for a group, the
    subcommand, as far as the arguments name them."""
    words = [arg for arg in args if arg not in GLOBAL_FLAGS]
    path = ["stockscan"]
    if words and not words[0].startswith("-"):
        path.append(words[0])
        groups = {group.name for group in app.registered_groups}
        if words[0] in groups and len(words) > 1 and not words[1].startswith("-"):
            path.append(words[1])
    return " ".join(path)


def _usage_error(exc: typer.TyperException, command_path: str) -> int:
    from stockscan import render
    from stockscan.cli.common import debug_from_env, state, usage_error_message

    if type(exc).__name__ == "NoArgsIsHelpError":  # `stockscan jobs`: the help is the answer
        exc.show()  # type: ignore[attr-defined]  # a ClickException
        return exc.exit_code
    # The main callback, which reads --debug, has not run when the command name is wrong.
    if state.debug or debug_from_env() or "--debug" in sys.argv[1:]:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    render.error(usage_error_message(exc, command_path))
    return exc.exit_code


__all__ = ["COMMANDS", "command_of", "main", "register"]
