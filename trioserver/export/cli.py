"""The `export` and `import` subcommands, added to `trioserver`'s own parser by `register`.

The heavy dependencies (psycopg, the Postgres checkpointer) are imported only when a
command runs, so `trioserver serve` never needs the `[export]` extra.
"""

from __future__ import annotations

import argparse
import sys

EXTRA_HINT = "the export commands need the [export] extra: pip install 'trioserver[export]'"


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="move this node's data into a Postgres-backed Agent Server (Aegra, or LangGraph Platform)",
        description="Copy threads with their whole checkpoint history, assistants with their versions, runs, crons "
        "and store items from a data directory (server stopped) into a Postgres-backed Agent Server.",
    )
    export.add_argument("--data-dir", default=".trioserver", help="the data directory to read (default: ./.trioserver); the server must be stopped")
    export.add_argument("--to-postgres", dest="to_postgres", metavar="URL", help="the target's database (--target aegra), e.g. postgresql://user@host:5432/aegra")
    export.add_argument("--target", choices=("aegra", "platform"), default="aegra", help="what runs on the target (default: aegra)")
    export.add_argument("--api", metavar="URL", help="the target's HTTP API (--target platform)")
    export.add_argument("--api-key", default=None, help="x-api-key for --api")
    export.add_argument("--owner", default=None, help="owner identity of everything written (Aegra custom auth; default: Aegra's no-auth identity 'anonymous')")
    export.add_argument("--thread", dest="threads", action="append", metavar="ID", help="export only this thread (repeatable); assistants, crons and store items still move")
    export.add_argument("--dry-run", action="store_true", help="print what would move (counts), write nothing")
    export.add_argument("--no-verify", dest="verify", action="store_false", help="skip the verification pass")
    export.add_argument("--force", action="store_true", help="export although runs are still pending or running (recorded as 'interrupted')")
    export.set_defaults(func=_export)

    imp = sub.add_parser(
        "import",
        help="bring an Aegra or langgraph-checkpoint-postgres database into a data directory",
        description="Copy threads with their checkpoint history (and, from Aegra, assistants, runs, crons) and store "
        "items from Postgres into a data directory. The server must be stopped.",
    )
    imp.add_argument("--from-postgres", dest="from_postgres", metavar="URL", required=True, help="the database to read")
    imp.add_argument("--data-dir", default=".trioserver", help="the data directory to fill (default: ./.trioserver)")
    imp.add_argument("--owner", default=None, help="import only what this owner has (Aegra's user_id; default: everything)")
    imp.add_argument("--no-verify", dest="verify", action="store_false", help="skip the verification pass")
    imp.set_defaults(func=_import)


def _export(args: argparse.Namespace) -> int:
    from .datadir import DataDirBusy, DataDirMissing

    if args.target == "aegra" and not args.to_postgres and not args.dry_run:
        print("trioserver export: --to-postgres URL is required for --target aegra", file=sys.stderr)
        return 2
    if args.target == "platform" and not args.api and not args.dry_run:
        print("trioserver export: --api URL is required for --target platform", file=sys.stderr)
        return 2
    try:
        from .exporter import ExportOptions, run_export

        opts = ExportOptions(
            data_dir=args.data_dir, to=args.to_postgres if args.target == "aegra" else args.api, target=args.target,
            owner=args.owner, api_key=args.api_key, dry_run=args.dry_run, verify=args.verify, force=args.force, threads=args.threads,
        )
        return run_export(opts)
    except (DataDirBusy, DataDirMissing) as exc:
        print(f"trioserver export: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"trioserver export: {exc}; {EXTRA_HINT}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a failed connection or an unready target: say so plainly
        if type(exc).__name__ in ("TargetNotReady", "OperationalError", "HTTPError", "ConnectError"):
            print(f"trioserver export: {exc}", file=sys.stderr)
            return 1
        raise


def _import(args: argparse.Namespace) -> int:
    from .datadir import DataDirBusy

    try:
        from .importer import run_import

        return run_import(args.from_postgres, args.data_dir, owner=args.owner, verify=args.verify)
    except DataDirBusy as exc:
        print(f"trioserver import: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"trioserver import: {exc}; {EXTRA_HINT}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ in ("OperationalError", "SourceNotReady"):
            print(f"trioserver import: {exc}", file=sys.stderr)
            return 1
        raise
