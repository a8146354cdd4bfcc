"""Run every bench/bench_*.py in its own process and print the figures each reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": os.environ.get("DEBUG", "true")}
    env["PYTHONPATH"] = str(HERE.parent)
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.stem}", flush=True)
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, env=env, check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
