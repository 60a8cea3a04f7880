"""`omniretail sourcing instance` and `omniretail bench sourcing` as an operator runs them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIRETAIL_")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "omniretail.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_the_sourcing_bench_on_a_generated_instance_writes_every_policy_with_the_documented_keys(tmp_path):
    made = cli("sourcing", "instance", "--locations", "4", "--orders", "30", "--skus", "12", "--seed", "3",
               "--capacity", "tight", "--output", "inst.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "4 locations, 30 orders, 12 SKUs (tight capacity) written to inst.json" in made.stderr
    document = json.loads((tmp_path / "inst.json").read_text())
    assert [len(document["locations"]), len(document["orders"])] == [4, 30]

    ran = cli("bench", "sourcing", "--instance", "inst.json", "--output", "out.json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((tmp_path / "out.json").read_text())
    assert list(result["policies"]) == ["default", "greedy", "optimal", "optimal_batch"]
    for name, row in result["policies"].items():
        assert {"total_cost", "packages", "splits", "unfilled_units", "decisions_per_s"} <= set(row), name
        assert row["orders"] == 30
    # the batch starts from the default policy's online plan and keeps only what is cheaper
    assert result["policies"]["optimal_batch"]["total_cost"] <= result["policies"]["default"]["total_cost"] + 1e-6
    assert list(result["reference_policies"]) == ["nearest"]
    assert result["instance"]["orders"] == 30 and result["instance"]["locations"] == 4
    assert "optimal_batch" in ran.stdout and "written to out.json" in ran.stdout
    assert "Running HiGHS" not in ran.stdout


def test_an_unknown_capacity_mode_is_refused(tmp_path):
    made = cli("sourcing", "instance", "--capacity", "roomy", "--output", "x.json", cwd=tmp_path)
    assert made.returncode == 2 and "--capacity must be one of loose, tight" in made.stderr
    assert not (tmp_path / "x.json").exists()
