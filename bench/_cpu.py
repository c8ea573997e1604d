"""CPU seconds used by each kind of process during a bench, read from /proc (Linux only).

A launch shares two cores between the API, the workers, PostgreSQL and Redis; the time each
kind spent on a CPU, divided by the purchases, says where a purchase's cost goes. Processes
that ended meanwhile are counted through their parent's ``cutime``/``cstime`` (PostgreSQL's
postmaster reaps its backends), so a backend that came and went is not lost.
"""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


SHARED = ("postgresql", "redis")


def _kind(cmdline: str, comm: str) -> str | None:
    if comm.startswith("postgres") or "postgres:" in cmdline:
        return "postgresql"
    if comm.startswith("redis-server"):
        return "redis"
    if "gunicorn" in cmdline:
        return "web (gunicorn)"
    if "celery" in cmdline and " beat" in cmdline:
        return "celery beat"
    if "celery" in cmdline and " worker" in cmdline:
        return "celery workers"
    return None


def _ours(entry: Path, run: str | None) -> bool:
    """Whether a Python process was started by this bench run (``BENCH_RUN=<run>`` in its
    environment): another bench, or a test suite beside it, starts workers of its own."""
    if run is None:
        return True
    try:
        return f"BENCH_RUN={run}".encode() in (entry / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def cpu_snapshot(run: str | None = None) -> dict[str, float]:
    """Seconds of CPU (user + system, own and reaped children) per kind, now. With ``run``,
    gunicorn, Celery and beat processes count only if they are this run's (PostgreSQL and
    Redis are shared servers and always count)."""
    totals: dict[str, float] = {}
    proc = Path("/proc")
    if not proc.exists():
        return totals
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        kind = _kind(cmdline, comm)
        if kind is None or (kind not in SHARED and not _ours(entry, run)):
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14 to 17 of stat (1-based), here 11 to 14.
        ticks = sum(int(v) for v in fields[11:15])
        totals[kind] = totals.get(kind, 0.0) + ticks / TICKS
    return totals


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per kind, the CPU seconds between two snapshots (a kind that started in between
    counts from zero)."""
    return {kind: after[kind] - before.get(kind, 0.0) for kind in sorted(after)}
