"""The state of the machine while a job measures, and one measurement per machine at a time.

- `WindowProbe`: CPU time other processes used on the job's cores during the timed window (from
  /proc/stat's per-CPU lines, minus this process's own CPU time), steal time (a hypervisor giving the
  vCPU to someone else), the load average and the CPU frequency where the kernel exposes it.
- `calibration_ms`: a fixed fp32 GEMM timed before and after a job; a machine that slowed down
  (thermal throttling, a noisy neighbour) shows as drift between the two.
- `gemm_peak_gflops`: the machine's fp32 and bf16 GEMM throughput (the best of torch's GEMM kernels),
  measured once per host and thread count and cached, to show each row's share of what the CPU can do.
- `host_lock`: a machine-wide file lock held for the whole job, so no two timed windows overlap
  on one machine, even from two sweeps started separately (the second waits and says so).

/proc/stat's fields: https://www.kernel.org/doc/html/latest/filesystems/proc.html (1.7 Miscellaneous).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.untrusted import json_loads, json_number, printable, read_regular, regular_descriptor

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CALIBRATION_SIZE = 512  # fp32 GEMM n x n x n: about 2 ms on 2 Zen 5 cores, 0.27 GFLOP
CALIBRATION_CALLS = 15
# GEMMs run untimed first: in a fresh process the first ones ran ~3% slower (up to 13%) than the same
# GEMM after the job (thread pool, clock ramp), which read as a drifting machine (benchmarks/calibration_warmup.py)
CALIBRATION_WARMUP_S = 0.2
# The peak GEMM climbs square sizes PEAK_MIN_SIZE, 2x, ... PEAK_SIZE while the next size's calls fit
# PEAK_BUDGET_S per kernel and dtype: a CPU without native bf16 (AVX2 only) ran one 2048^3 bf16
# torch.mm in 110-134 s, which made every job of a busy machine (the figure is kept only when quiet)
# last 9-14 minutes; large fp32 GEMMs reach their plateau well below 2048.
PEAK_MIN_SIZE = 128
PEAK_SIZE = 2048
PEAK_CALLS = 8
PEAK_BUDGET_S = 1.0
PLAUSIBLE_PEAK_GFLOPS = (1e-3, 1e6)  # a cached figure outside this is no CPU's: measured again
# In the peak's cache key: a change of method must not reuse figures measured the old way (torch.mm
# alone, on whatever threads the job had left: 102 GFLOP/s fp32 here, against 465 measured right)
PEAK_METHOD = "best of torch.mm and oneDNN matmul, sizes 128..2048 within 1 s each, on the given threads"
HOST_LOCK_ENV = "HARNESS_HOST_LOCK"
# Flags in the report (README: "Machine state"): pyperf warns at similar levels of system noise.
BUSY_OTHER_SHARE = 0.10  # other processes used more than 10% of the machine during the timed window
BUSY_STEAL_SHARE = 0.05
DRIFT = 0.10  # the calibration GEMM took 10% longer or shorter after the job than before


def _cpu_jiffies(cpus: set[int] | None = None, stat: str | None = None) -> tuple[int, int, int]:
    """(total, busy, steal) jiffies since boot of `cpus` (default: those this process may run on, the
    job's pinned cores), summed over /proc/stat's per-CPU `cpuN` lines (`stat`: its text, for tests);
    the aggregate first line where no per-CPU line matches. The job's own cores are where another
    process takes its time: a neighbour on the 2 cores of a job on a 64-core host read 1.6% of the
    machine, one on 8 other cores 12.5% (flagged)."""
    cpus = set(os.sched_getaffinity(0)) if cpus is None else cpus
    lines = (Path("/proc/stat").read_text() if stat is None else stat).splitlines()
    rows = [line.split() for line in lines if line.startswith("cpu")]
    mine = [row for row in rows if row[0][3:].isdigit() and int(row[0][3:]) in cpus] or rows[:1]
    total = busy = steal_sum = 0
    for row in mine:
        fields = [int(x) for x in row[1:]]
        user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        cpu_total = user + nice + system + idle + iowait + irq + softirq + steal  # guest time is inside user
        total, busy, steal_sum = total + cpu_total, busy + cpu_total - idle - iowait - steal, steal_sum + steal
    return total, busy, steal_sum


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def cpu_frequency_mhz() -> float | None:
    """Mean current frequency of the CPUs this process may use, where the kernel exposes it."""
    values = []
    for cpu in os.sched_getaffinity(0):
        path = Path(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_cur_freq")
        with contextlib.suppress(OSError, ValueError):
            values.append(int(path.read_text()) / 1000.0)
    return sum(values) / len(values) if values else None


@dataclass
class WindowProbe:
    """Start it right before the timed window and stop it right after (outside the timed calls)."""

    started: tuple[int, int, int] = (0, 0, 0)
    own_s: float = 0.0
    wall: float = 0.0
    started_at: float = 0.0

    def start(self) -> None:
        self.load_1min = os.getloadavg()[0]
        self.frequency = cpu_frequency_mhz()
        self.started, self.own_s, self.wall, self.started_at = (
            _cpu_jiffies(),
            _own_cpu_s(),
            time.monotonic(),
            time.time(),
        )

    def stop(self) -> dict[str, Any]:
        total, busy, steal = (b - a for a, b in zip(self.started, _cpu_jiffies(), strict=True))
        own = (_own_cpu_s() - self.own_s) * CLOCK_TICKS
        return {
            "measure_started_at": self.started_at,  # epoch seconds: the timed window, for overlap checks
            "measure_ended_at": time.time(),
            "other_cpu_share": max(0.0, busy - own) / total if total > 0 else None,
            "steal_share": steal / total if total > 0 else None,
            "load_avg_1min": self.load_1min,
            "cpu_freq_mhz": self.frequency,
        }


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """Run the block on `threads` torch threads, then restore the count: a job may have changed it
    (offline with N streams gives each stream cores/N threads), and a GEMM on fewer threads reads as
    a machine that much slower."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def calibration_ms(threads: int, warmup_s: float = CALIBRATION_WARMUP_S) -> float:
    """Median time (ms) of a fixed fp32 GEMM, CALIBRATION_SIZE cubed, on `threads` torch threads (set
    for the call and restored after), after `warmup_s` seconds of the same GEMM untimed: the GEMM
    before and after a job must run on the same number of threads and equally warm."""
    import torch

    with _torch_threads(threads):
        a = torch.ones(CALIBRATION_SIZE, CALIBRATION_SIZE)
        torch.mm(a, a)
        warm_until = time.perf_counter() + warmup_s
        while time.perf_counter() < warm_until:
            torch.mm(a, a)
        times = []
        for _ in range(CALIBRATION_CALLS):
            started = time.perf_counter_ns()
            torch.mm(a, a)
            times.append((time.perf_counter_ns() - started) / 1e6)
    return sorted(times)[len(times) // 2]


def _gemm_kernels(dtype: Any, size: int) -> dict[str, Any]:
    """The square GEMMs (`size` x `size`, `dtype`) torch can run here, as zero-argument calls:
    torch.mm (MKL for fp32 in the official CPU wheels, oneDNN for bf16) and oneDNN's matmul (the op
    behind torch.utils.mkldnn's MkldnnLinear). Both count: MKL's fp32 GEMM reached 218 GFLOP/s on 2
    Zen 5 cores and oneDNN's 465, so torch.mm alone put eager ResNet convolutions above the "peak"."""
    import torch

    a = torch.ones(size, size, dtype=dtype)
    kernels: dict[str, Any] = {"torch.mm": lambda: torch.mm(a, a)}
    linear = getattr(torch._C._nn, "mkldnn_linear", None)
    if linear is not None and torch.backends.mkldnn.is_available():
        with contextlib.suppress(RuntimeError):  # a torch without this oneDNN path: torch.mm alone
            x, w = a.to_mkldnn(), a.to_mkldnn()
            linear(x, w, None)
            kernels["onednn matmul"] = lambda: linear(x, w, None)
    return kernels


def _gemm_gflops(dtype: Any) -> float:
    """Best GFLOP/s (2 x size cubed per call) over the kernels of _gemm_kernels: for each kernel, the
    best of PEAK_CALLS calls at each size from PEAK_MIN_SIZE, doubling up to PEAK_SIZE while the next
    size's calls (8x the flops of this size's best call, PEAK_CALLS + 1 of them) still fit PEAK_BUDGET_S.
    Bounded in time on any CPU: a dtype the CPU only emulates stops at a small size."""
    best_gflops = 0.0
    for name in _gemm_kernels(dtype, PEAK_MIN_SIZE):
        spent, size = 0.0, PEAK_MIN_SIZE
        while True:
            call = _gemm_kernels(dtype, size)[name]
            times = [_timed(call) for _ in range(PEAK_CALLS + 1)]  # the first: allocation and kernel selection
            spent += sum(times)
            best_gflops = max(best_gflops, 2 * size**3 / max(min(times[1:]), 1e-9) / 1e9)
            if size >= PEAK_SIZE or spent + 8 * min(times[1:]) * (PEAK_CALLS + 1) > PEAK_BUDGET_S:
                break
            size *= 2
    return best_gflops


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def host_cache_dir() -> Path:
    """Facts about this machine, shared by every results cache on it: $HARNESS_HOST_CACHE, else
    $XDG_CACHE_HOME/harness, else ~/.cache/harness."""
    if os.environ.get("HARNESS_HOST_CACHE"):
        return Path(os.environ["HARNESS_HOST_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness"


def gemm_peak_gflops(threads: int) -> dict[str, float]:
    """{"fp32": GFLOP/s, "bf16": GFLOP/s}: the best square GEMM torch can run on this host at `threads`
    threads (set for the measurement and restored, whatever the job left), by _gemm_gflops (a few
    seconds per dtype, bounded on any CPU), measured once per host, CPU, thread count, torch version
    and PEAK_METHOD, then cached in host_cache_dir() -- only when the machine was quiet and this
    process may use `threads` cores, so a figure measured short of the cores is used once, never kept."""
    import torch

    from harness.cache import identity_key
    from harness.envinfo import cpu_info

    key = identity_key({"host": socket.gethostname(), "cpu": cpu_info(), "threads": threads,
                        "torch": torch.__version__, "method": PEAK_METHOD})  # fmt: skip
    path = host_cache_dir() / f"gemm-peak-{key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # a damaged file: measured again
        cached = json_loads(read_regular(path))
        return {name: json_number(cached[name], *PLAUSIBLE_PEAK_GFLOPS) for name in ("fp32", "bf16")}
    probe = WindowProbe()
    probe.start()
    with _torch_threads(threads):
        peak = {"fp32": _gemm_gflops(torch.float32), "bf16": _gemm_gflops(torch.bfloat16)}
    if not busy_flags(probe.stop()) and len(os.sched_getaffinity(0)) >= threads:
        from harness.results import atomic_write

        with contextlib.suppress(OSError):  # an unwritable cache (or a directory in the file's place): not kept
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda p: p.write_text(json.dumps(peak)))
    return peak


def host_lock_path() -> Path:
    """One machine-wide place: $HARNESS_HOST_LOCK, else /run/lock (tmpfs, world-writable on Debian and
    most Linux distributions), else /tmp."""
    if os.environ.get(HOST_LOCK_ENV):
        return Path(os.environ[HOST_LOCK_ENV])
    run_lock = Path("/run/lock")
    directory = run_lock if run_lock.is_dir() and os.access(run_lock, os.W_OK) else Path("/tmp")
    return directory / "harness-measure.lock"


SHARED_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # never through a link, never waiting on a FIFO


def open_shared(path: Path, access: int = os.O_RDWR) -> int:
    """A descriptor on the regular file `path` that every user of the machine shares: made with mode
    0o666 (fchmod, past the umask) when this process creates it, else opened as it is; when it cannot
    be opened for writing (another user made it before this change), opened read-only, which is enough
    for flock. Created with O_EXCL and opened without O_CREAT otherwise: Linux refuses O_CREAT on
    another user's file in a sticky directory such as /run/lock (fs.protected_regular). Never through a
    symbolic link; what is no regular file (a FIFO, a directory) raises OSError, as does anything else."""
    try:
        fd = os.open(path, access | os.O_CREAT | os.O_EXCL | SHARED_FLAGS, 0o666)
        os.fchmod(fd, 0o666)
    except FileExistsError:
        try:
            fd = os.open(path, access | SHARED_FLAGS)
        except PermissionError:
            if access != os.O_RDWR:
                raise
            fd = os.open(path, os.O_RDONLY | SHARED_FLAGS)
    return regular_descriptor(fd, path)


def check_host_lock() -> str | None:
    """None when the host lock can be taken (made when missing), else one line naming it and why:
    run before any job (the sweep's pre-flight), not as an error in every row."""
    path = host_lock_path()
    named = f"{HOST_LOCK_ENV}={path}" if os.environ.get(HOST_LOCK_ENV) else f"the host lock {path}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(open_shared(path))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        return (f"{named} cannot be the machine-wide measurement lock: {exc.strerror}{where}; name a regular "
                f"file in a directory that exists (or can be made), or unset {HOST_LOCK_ENV}")  # fmt: skip
    return None


def _write_holder(holder: Path, text: str) -> None:
    """Say who holds the lock, for whoever waits (a courtesy: any failure is ignored)."""
    with contextlib.suppress(OSError):
        fd = open_shared(holder, os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, text.encode())
        finally:
            os.close(fd)


@contextlib.contextmanager
def host_lock(label: str) -> Iterator[float]:
    """Hold the machine-wide measurement lock; yields the seconds spent waiting for it. The lock is
    released when the holder exits, however it ends (flock), so a killed sweep never blocks the next.
    Any user of the machine can take it (open_shared)."""
    import fcntl

    path = host_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = path.with_name(path.name + ".holder")
    with os.fdopen(open_shared(path), "rb") as handle:
        waited, who = 0.0, ""
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                who = printable(read_regular(holder, max_bytes=4096).strip())
            print(f"{label}: waiting for the host lock {path} (held by {who or 'another job'}); "
                  "two timed windows never share a machine", file=sys.stderr, flush=True)  # fmt: skip
            started = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks: no polling
            waited = time.monotonic() - started
        _write_holder(
            holder, f"pid {os.getpid()} on {socket.gethostname()}: {label}, since {time.strftime('%H:%M:%S')}"
        )
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def busy_flags(row: dict[str, Any] | Any) -> list[str]:
    """Why a row was measured on a busy or drifting machine, with the figures (empty: quiet)."""
    flags = []
    other, steal = row.get("other_cpu_share"), row.get("steal_share")
    before, after = row.get("calib_gemm_ms_before"), row.get("calib_gemm_ms_after")
    if _number(other) and other > BUSY_OTHER_SHARE:
        flags.append(f"other processes used {100 * other:.0f}% of the CPUs during the timed window")
    if _number(steal) and steal > BUSY_STEAL_SHARE:
        flags.append(f"the hypervisor stole {100 * steal:.0f}% of the CPU time")
    if _number(before) and _number(after) and before > 0 and abs(after / before - 1) > DRIFT:
        flags.append(f"the calibration GEMM took {before:.2f} ms before the job and {after:.2f} ms after")
    return flags


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and value == value
