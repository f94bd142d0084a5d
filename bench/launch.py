"""Start a command from a small process and write down its own time and peak RSS (kiosk_commands.run_kiosk).

Linux counts in a child's peak RSS (ru_maxrss) the pages it shares with its parent between the fork and the exec:
a command started straight from a benchmark that holds a county server in its threads (45 MB) could never measure
less than that. Started from this process, a bare Python of about 10 MB, the figure is the command's own.

Usage: python -m bench.launch FIGURES_FILE COMMAND ARGS...   (writes "SECONDS PEAK_KB"; exits as the command did)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> int:
    figures, command = Path(sys.argv[1]), sys.argv[2:]
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ)
    _pid, status, usage = os.wait4(pid, 0)  # the command's own rusage: ru_maxrss in KB on Linux
    figures.write_text(f"{time.perf_counter() - started} {usage.ru_maxrss}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
