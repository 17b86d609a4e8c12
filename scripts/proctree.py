"""A process tree's RSS and CPU, read from /proc (stdlib only: the benchmark scripts share it)."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(b")") + 2:].split()[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def rss_kb(root: int) -> dict[str, int]:
    """VmRSS (and RssAnon, RssFile) summed over the process tree, in kB."""
    total = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "procs": 0}
    for pid in proc_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in total:
                    total[key] += int(value.split()[0])
            total["procs"] += 1
        except OSError:
            pass
    return total


def cpu_seconds(root: int, *, tree: bool = True) -> float:
    """user+system CPU seconds of the process tree (live processes), or of `root` alone."""
    total = 0
    for pid in (proc_tree(root) if tree else [root]):
        try:
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / CLK_TCK
