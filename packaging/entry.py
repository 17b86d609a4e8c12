"""Entry point of the `trioserver` binary: the same command line as the `trioserver` script.

PyInstaller freezes this file, not `trioserver.cli` itself, so the CLI stays an ordinary
module (found by collect_submodules) however the package is laid out.

Start-up is almost all imports, which allocate a few hundred thousand long-lived objects
and so set off the cyclic garbage collector dozens of times for next to nothing. While the
CLI module and what the bundled graphs use are imported, the collector runs less often
(first-generation threshold 10,000 instead of 700): about 0.05 s less start-up for 0.2 MB
more memory (turning it off altogether saves 0.07 s but keeps 2 MB of import garbage).
"""

import gc
import os
import sys


def restore_library_path() -> None:
    """Give child processes the LD_LIBRARY_PATH this program was started with.

    PyInstaller's bootloader puts the bundled libraries first on the search path so this
    process finds them, and keeps the value it was given as LD_LIBRARY_PATH_ORIG. A
    program a graph runs (git, curl, ...) must find the host's own libssl and libz, not
    the bundle's; the dynamic loader read the variable when this process started, so
    changing it now affects only children.

    A child that is this binary again (a graph worker, a multiprocessing child) must then
    start as a program of its own, putting the bundle back on its path, rather than as
    PyInstaller's sub-process that inherits the parent's set-up:
    PYINSTALLER_RESET_ENVIRONMENT tells its bootloader so.

    Only in the one-folder layout (what the launcher runs): in PyInstaller's one-file mode
    (the staticx build) a reset child would unpack the whole archive again, so there its
    children keep PyInstaller's defaults."""
    meipass = getattr(sys, "_MEIPASS", None)
    if not meipass or os.path.dirname(os.path.abspath(meipass)) != os.path.dirname(os.path.abspath(sys.executable)):
        return
    orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", "")
    if orig:
        os.environ["LD_LIBRARY_PATH"] = orig
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
    os.environ["PYINSTALLER_RESET_ENVIRONMENT"] = "1"


if __name__ == "__main__":
    usual = gc.get_threshold()
    gc.set_threshold(10_000, 1_000, 1_000)
    restore_library_path()
    import multiprocessing

    multiprocessing.freeze_support()  # a spawned child runs its task, not the CLI

    # What the bundled examples import beyond the server (cheap once the server's are loaded).
    import langchain_core.language_models.fake_chat_models  # noqa: F401
    import langgraph.graph  # noqa: F401

    from trioserver.cli import main

    gc.set_threshold(*usual)
    sys.exit(main())
