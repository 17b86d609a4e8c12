"""`trioserver serve`: the command line."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from . import frozen
from .export import cli as export_commands
from .storage.env import DURABILITY

# The serving stack (Quart, hypercorn, MCP, metrics, auth) is imported in `_serve` only:
# a graph worker, which starts through this module too, never loads it (about 16 MB less
# per worker).

# One graph worker beside the server process: graphs get a core of their own, and a graph
# that crashes, leaks or hangs costs a worker (replaced, its runs resumed), never the server.
DEFAULT_WORKERS = 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pip"]:  # everything after `pip` is pip's, options included
        return frozen.pip_main(argv[1:])
    if argv[:1] == ["worker"]:  # a graph worker the server starts (see trioserver/worker.py)
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(prog="trioserver", description="A LangGraph Agent Server on Trio with a durable LMDB event log.")
    parser.add_argument("--version", action=frozen.VersionAction)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("pip", add_help=False, help="the bundled pip, to fill a dependencies directory (install needs --target DIR)")
    serve = sub.add_parser("serve", help="serve the graphs of a langgraph.json (default: the bundled examples)")
    serve.add_argument("--config", default=None, help="path to langgraph.json (default: bundled example graphs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=2024)
    serve.add_argument("--data-dir", default=".trioserver", help="where the LMDB store lives (default: ./.trioserver)")
    serve.add_argument("--durability", default="full", choices=sorted(DURABILITY), help="fsync policy (see README)")
    serve.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats on idle streams (default 5)")
    serve.add_argument("--write-timeout", type=float, default=30.0, help="drop a client that accepts no data for this many seconds (default 30)")
    serve.add_argument("--retention-days", type=float, default=30.0, help="drop a thread's events older than this (default 30)")
    serve.add_argument("--retention-events", type=int, default=200_000, help="keep at most this many events per thread (default 200000)")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--workers", type=int, default=DEFAULT_WORKERS, metavar="N",
                       help=f"graph worker processes; 0 runs graphs in the server process (default {DEFAULT_WORKERS}, see README)")
    serve.add_argument("--certfile", default=None, metavar="PEM", help="serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate chain")
    serve.add_argument("--keyfile", default=None, metavar="PEM", help="the private key of --certfile")
    serve.add_argument("--api-key-file", default=None, metavar="PATH",
                       help="require one of the keys in PATH (one per line) in x-api-key or Authorization: Bearer; also TRIOSERVER_API_KEY")
    serve.add_argument("--python-path", action="append", default=[], metavar="DIR",
                       help="put DIR on the import path, like PYTHONPATH (which a frozen binary ignores); repeatable")
    export_commands.register(sub)
    args = parser.parse_args(argv)
    if args.command in ("export", "import"):
        return args.func(args)
    if args.command != "serve":
        parser.print_help()
        return 2
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    import trio

    from .auth import setup as auth_setup
    from .runtime.graphs import GraphLoadError, default_config_path, load_config
    from .server import run_server
    from .services import Settings
    from .storage.retention import RetentionPolicy

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    frozen.prepare_import_path(args.python_path, args.config)
    try:
        graphs = load_config(args.config or default_config_path())
    except GraphLoadError as exc:
        print(f"trioserver: {exc}", file=sys.stderr)
        return 1
    try:
        api_keys, custom_auth = auth_setup.configure(args.config or default_config_path(), args.api_key_file, args.host)
    except auth_setup.AuthSetupError as exc:
        print(f"trioserver: {exc}", file=sys.stderr)
        return 1
    retention = RetentionPolicy(max_age=args.retention_days * 86400, max_count=args.retention_events)
    tls = _tls(args.certfile, args.keyfile)
    if isinstance(tls, str):
        print(f"trioserver: {tls}", file=sys.stderr)
        return 1
    scheme = "https" if tls else "http"
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"trioserver: cannot listen on {args.host}:{args.port}: {problem} (choose another with --port)", file=sys.stderr)
        return 1
    settings = Settings(
        data_dir=args.data_dir,
        durability=args.durability,
        heartbeat=args.heartbeat,
        write_timeout=args.write_timeout,
        retention=retention,
        api_url=f"{scheme}://{args.host}:{args.port}",
        workers=max(0, args.workers),
        config_path=str(args.config or default_config_path()),
        python_path=list(args.python_path),
        log_level=args.log_level,
        api_keys=api_keys,
        custom_auth=custom_auth,
    )
    logging.getLogger(__name__).info(
        "serving %s on %s://%s:%d (data in %s)", ", ".join(graphs), scheme, args.host, args.port, args.data_dir
    )
    trio.run(lambda: run_server(graphs, settings, host=args.host, port=args.port, tls=tls))
    _exit_past_lingering_threads()
    return 0


def _exit_past_lingering_threads() -> None:
    """Sync nodes of cancelled runs may still be running in worker threads, and Python
    would wait for them at exit (a supervisor would then SIGKILL us). Everything is
    committed and closed by now, so leave without waiting."""
    import os

    from .runtime.bridge import sync_work_in_flight

    lingering = sync_work_in_flight()
    if lingering:
        logging.getLogger(__name__).warning("exiting with %d sync node(s) of cancelled runs still running in worker threads", lingering)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _worker(argv: list[str]) -> int:
    import os

    from . import worker

    config = argv[argv.index("--config") + 1] if "--config" in argv else None
    extra = [p for p in os.environ.get("TRIOSERVER_PYTHON_PATH", "").split(os.pathsep) if p]
    frozen.prepare_import_path(extra, config)
    return worker.main(argv)


def _tls(certfile: str | None, keyfile: str | None) -> tuple[str, str] | None | str:
    """(certfile, keyfile) when both are given and readable; None without TLS; else what is wrong."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        return "--certfile and --keyfile go together"
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot use {certfile} with {keyfile}: {exc}"
    return certfile, keyfile


def _cannot_listen(host: str, port: int) -> str | None:
    """Why binding would fail (a port in use, say), before the server starts: hypercorn
    reports it only as a traceback from deep inside its start-up."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
