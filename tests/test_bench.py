"""The benchmark script itself runs end to end (N=5); the real figures come from bench/, not CI."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def test_benchmark_script_runs_on_five_files():
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run_bench.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for label in ("baseline", "embedded", "server", "rerun unchanged", "rerun one changed", "memory N=3",
                  "memory N=6", "parallel speedup", "orchestration overhead", "nightly rerun, nothing changed",
                  "memory: peak rss", "render, memo before issue 12", "render, current memo",
                  "render: current / before issue 12"):
        assert label in output, label
    assert "Traceback" not in output
    # The render row prints a ratio of two measured figures (not a constant): both are positive.
    figures = re.findall(r"^render, (?:memo before issue 12|current memo)\s+([0-9.]+) s", output, re.M)
    assert len(figures) == 2 and all(float(f) > 0 for f in figures), output[-3000:]


def test_rerun_row_runs_on_five_files():
    """bench/rerun_row.py: one full run, then reruns that keep every memo, and the ratio of the two."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "rerun_row.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert re.search(r"^full run \(server\)\s+[0-9.]+ s", output, re.M), output[-3000:]
    assert len(re.findall(r"^rerun unchanged #\d\s+[0-9.]+ s", output, re.M)) == 2, output[-3000:]
    ratio = re.search(r"^nightly rerun, nothing changed: wall / full run\s+([0-9.]+)", output, re.M)
    assert ratio and 0 < float(ratio.group(1)) < 1, output[-3000:]
    assert "Traceback" not in output


def test_sync_row_runs_on_a_small_batch():
    """bench/sync_row.py: the sync of the recorded listings, then a batch, one synced price change
    and the rerun that re-issues only the memos whose decision used the offer."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "sync_row.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sync row: parse + diff of a full models.dev snapshot" in result.stdout
    assert "re-issue row: rerun / ((re-rendered / N) x full run)" in result.stdout


def test_decide_row_runs_on_a_few_memos():
    """bench/decide_row.py: a sync of the recorded listings, then decide and render timed on a few
    memos with the synced catalog; the row prints both figures and their ratio, and the exit code
    follows the verdict it prints (the timing itself is not asserted)."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "decide_row.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert re.search(r"^catalog: .*synced overlay .* [1-9][0-9]* synced facts$", result.stdout, re.M), output[-3000:]
    row = re.search(r"^decide: median ([0-9.]+) ms per memo \(target <= 50 ms: (met|MISSED)\); "
                    r"render ([0-9.]+) ms; decide/render ([0-9.]+)$", result.stdout, re.M)
    assert row, output[-3000:]
    assert float(row.group(1)) > 0 and float(row.group(3)) > 0, row.group(0)
    assert result.returncode == (0 if row.group(2) == "met" else 1), output[-3000:]


def test_pilot_row_runs_and_reruns_from_the_cache():
    """bench/pilot_row.py: a pilot of 20 examples x 3 candidates against the local server, then a rerun
    that makes no call (the ratio to the ideal time is the full row's figure, not checked here)."""
    import json

    result = subprocess.run([sys.executable, str(ROOT / "bench" / "pilot_row.py"), "--quick", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    row = json.loads(result.stdout)
    assert row["calls"] == 60 and row["rerun_calls"] == 0 and row["ok"] and row["max_in_flight"] <= row["concurrency"]


def test_mail_row_runs_on_five_memos():
    """bench/mail_row.py: a black-holed mail server costs the breaker's few connections, not N x retries."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "mail_row.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert re.search(r"^connections the server accepted\s+3$", output, re.M), output[-3000:]
    assert re.search(r"^mail phase, black-holed server\s+[0-9.]+ s  \(5 memos, 10 emails, 8 not attempted\)", output,
                     re.M), output[-3000:]
    ratio = re.search(r"^mail phase: now / before\s+([0-9.]+)", output, re.M)
    assert ratio and 0 < float(ratio.group(1)) < 0.1, output[-3000:]
    assert "Traceback" not in output
