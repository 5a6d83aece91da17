"""The ``knm-tui`` command: parse arguments, set up logging, load the kubeconfig, run the app.

Exit codes: 0 after a normal quit; 2 for a usage or kubeconfig problem (no kubeconfig, an
unreadable or invalid one, an unknown ``--context``, a log file that cannot be opened), with one
clear line on stderr and never a traceback; 1 for an unexpected failure (details in the log
file); 130 when interrupted.

Node operations are recorded in the audit log, ``$XDG_STATE_HOME/knm-tui/audit.jsonl`` unless
``--audit-log PATH`` says otherwise (created 0600; checked at start unless ``--read-only``).
``--read-only`` removes every write action; ``--read-only-context NAME`` does so for one context.

Logs go to a file, never to the terminal the UI draws on: ``--log-file PATH``, else
``$XDG_STATE_HOME/knm-tui/knm-tui.log``, else ``~/.local/state/knm-tui/knm-tui.log``. The file
is created with mode 0600 (its directory 0700).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence, TextIO

from knm_tui import __version__

if TYPE_CHECKING:
    from knm_tui.app import KnmApp
    from knm_tui.demo import DemoEnvironment
    from knm_tui.kube.sync import Fleet

log = logging.getLogger("knm_tui")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
PROGRAM = "knm-tui"


class CliError(Exception):
    """A problem the user can fix; ``str(error)`` is the one line to print."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``knm-tui``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=(
            "Watch Kubernetes nodes across every context in your kubeconfig: health, conditions "
            "with heartbeat and transition times, leases, and pod counts on demand."
        ),
        epilog="No cluster at hand? Try: knm-tui --demo",
    )
    parser.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    parser.add_argument(
        "--context",
        metavar="NAME",
        action="append",
        default=[],
        help="watch only this context (repeatable; default: every context, opening on the current one)",
    )
    parser.add_argument("--demo", action="store_true", help="run against built-in simulated clusters (no cluster needed)")
    parser.add_argument("--read-only", action="store_true", help="never change anything in a cluster")
    parser.add_argument(
        "--read-only-context",
        metavar="NAME",
        action="append",
        default=[],
        help="never change anything in this context (repeatable)",
    )
    parser.add_argument(
        "--audit-log",
        metavar="PATH",
        help="record node operations here (default: $XDG_STATE_HOME/knm-tui/audit.jsonl)",
    )
    parser.add_argument("--log-file", metavar="PATH", help="write logs here (default: under $XDG_STATE_HOME/knm-tui/)")
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    return parser


def default_log_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/knm-tui/knm-tui.log``, else ``~/.local/state/knm-tui/knm-tui.log``."""
    environ = os.environ if env is None else env
    state_home = environ.get("XDG_STATE_HOME")
    if state_home and os.path.isabs(state_home):
        base = Path(state_home)
    else:
        home = environ.get("HOME") or os.path.expanduser("~")
        base = Path(home) / ".local" / "state"
    return base / PROGRAM / f"{PROGRAM}.log"


def setup_logging(path: Path) -> logging.Handler:
    """Send every log record (and Python warnings) to ``path`` only, created 0600.

    Raises :class:`CliError` when the file cannot be created or opened.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(descriptor)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CliError(f"cannot write the log file {path}: {reason}; choose another with --log-file PATH") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)  # with a handler in place, Python's last-resort stderr handler stays unused
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``knm-tui`` with ``argv`` (default: the process arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version, or a usage error already printed
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    handler: logging.Handler | None = None
    try:
        log_path = Path(args.log_file).expanduser() if args.log_file else default_log_path()
        handler = setup_logging(log_path)
        log.info("knm-tui %s starting", __version__)
        return run(args)
    except CliError as error:
        _print_error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:  # never a traceback on the terminal: one line, details in the log
        log.exception("unexpected failure")
        where = f" (details in {handler.baseFilename})" if isinstance(handler, logging.FileHandler) else ""
        _print_error(f"unexpected error: {type(error).__name__}: {error}{where}")
        return EXIT_FAILURE
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


@dataclass
class Session:
    """What a run needs: the app, the fleet it watches, and the demo simulator if any."""

    app: "KnmApp"
    fleet: "Fleet"
    demo: "DemoEnvironment | None" = None

    def close(self) -> None:
        """Stop the fleet (a no-op when the app already did) and the demo."""
        try:
            self.fleet.stop(timeout=2.0)
        finally:
            if self.demo is not None:
                self.demo.stop()


def prepare(args: argparse.Namespace) -> Session:
    """Load the kubeconfig (or start the demo) and build the fleet and the app.

    The fleet is started at once so the caches prime while the terminal UI starts.
    Raises :class:`CliError` for a problem the user can fix.
    """
    from knm_tui.kube.audit import AuditError, AuditLog
    from knm_tui.kube.config import KubeconfigError, describe_user, load_kubeconfig, select_contexts

    demo = None
    if args.demo:
        if args.kubeconfig:
            raise CliError("--demo runs its own simulated clusters; leave out --kubeconfig")
        from knm_tui.demo import start_demo

        demo = start_demo()
        kubeconfig_path: str | None = str(demo.kubeconfig_path)
    else:
        kubeconfig_path = args.kubeconfig
    try:
        try:
            kubeconfig = load_kubeconfig(kubeconfig_path)
            contexts = select_contexts(kubeconfig, args.context)
            users = {context: describe_user(kubeconfig, context) for context in kubeconfig.context_names}
        except KubeconfigError as error:
            raise CliError(error.message) from None
        unknown = [name for name in args.read_only_context if name not in kubeconfig.context_names]
        if unknown:
            raise CliError(f"--read-only-context: no context named {', '.join(unknown)} in the kubeconfig "
                           f"(contexts: {', '.join(kubeconfig.context_names)})")
        audit_log = AuditLog(Path(args.audit_log).expanduser() if args.audit_log else None)
        if not args.read_only:
            try:
                audit_log.check()
            except AuditError as error:
                raise CliError(f"{error.message}; choose another with --audit-log PATH") from None
        from knm_tui.app import KnmApp  # Textual loads only once the kubeconfig is known good
        from knm_tui.kube.sync import Fleet

        fleet = Fleet(kubeconfig, contexts)
    except BaseException:
        if demo is not None:
            demo.stop()
        raise
    initial = args.context[0] if args.context else kubeconfig.current_context
    log.info("watching %d context(s): %s", len(fleet.contexts), ", ".join(fleet.contexts))
    app = KnmApp(fleet, read_only=args.read_only, read_only_contexts=args.read_only_context, users=users,
                 audit_log=audit_log, initial_context=initial)
    fleet.start()
    return Session(app=app, fleet=fleet, demo=demo)


def run(args: argparse.Namespace) -> int:
    """Run the dashboard until the user quits; returns the exit code."""
    session = prepare(args)
    try:
        session.app.run()
    finally:
        session.close()
    return_code = session.app.return_code
    return EXIT_OK if return_code is None else return_code


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _print_error(message: str, stream: TextIO | None = None) -> None:
    """Print ``message`` as one line: control characters (a newline in a context name, say) are
    shown as escapes, so the line cannot break or move the cursor."""
    one_line = _CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", message)
    print(f"{PROGRAM}: {one_line}", file=stream or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
