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
    assert ("4 locations, 30 orders, 12 SKUs (tight capacity, forecast from a history of 30 orders) written to "
            "inst.json") in made.stderr
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
    assert list(result["reference_policies"]) == ["default_without_prices", "most_lines"]
    assert result["instance"]["orders"] == 30 and result["instance"]["locations"] == 4
    assert "optimal_batch" in ran.stdout and "written to out.json" in ran.stdout
    assert "Running HiGHS" not in ran.stdout
    # the default runs with bid prices from the instance's forecast, re-solved apart from the decisions
    default, prices = result["policies"]["default"], result["bid_prices"]
    assert default["bid_prices"] is True and 0 <= default["decisions_with_prices"] <= 30
    assert "bid_prices" not in result["reference_policies"]["default_without_prices"]
    assert prices["forecast"]["kind"] == "instance" and "history sample" in prices["forecast"]["source"]
    assert prices["forecast"]["orders"] == 30 and prices["every_orders"] == 2
    assert prices["resolves"] >= 15 and prices["resolve_ms"]["n"] == prices["resolves"]
    assert prices["resolve_seconds_total"] >= prices["first_solve_seconds"] > 0
    assert {"default_without_prices_below_greedy_pct", "prices_saved_units"} <= set(result["comparison"])
    assert result["comparison"]["prices_saved_units"] == (
        result["reference_policies"]["default_without_prices"]["unfilled_units"] - default["unfilled_units"])
    assert "re-solved" in ran.stdout and "not in the decision latency" in ran.stdout


def test_without_a_forecast_the_bench_says_it_prices_with_the_batchs_own_demand_and_can_skip_the_batch(tmp_path):
    made = cli("sourcing", "instance", "--locations", "3", "--orders", "20", "--skus", "8", "--seed", "5",
               "--capacity", "tight", "--history", "0", "--output", "bare.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "forecast" not in json.loads((tmp_path / "bare.json").read_text())
    ran = cli("bench", "sourcing", "--instance", "bare.json", "--output", "out.json", "--no-batch", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    result = json.loads((tmp_path / "out.json").read_text())
    assert list(result["policies"]) == ["default", "greedy", "optimal"]
    assert result["batch"]["skipped"] == "--no-batch" and "unfilled_units_floor" in result["batch"]
    assert result["comparison"]["default_vs_batch_pct"] is None
    assert result["bid_prices"]["forecast"]["kind"] == "batch_aggregate"
    assert result["bid_prices"]["forecast"]["source"].startswith("aggregate forecast from the batch itself")
    assert "aggregate forecast from the batch itself" in ran.stdout and "optimal_batch skipped" in ran.stdout


def test_an_unknown_capacity_mode_is_refused(tmp_path):
    made = cli("sourcing", "instance", "--capacity", "roomy", "--output", "x.json", cwd=tmp_path)
    assert made.returncode == 2 and "--capacity must be one of loose, tight" in made.stderr
    assert not (tmp_path / "x.json").exists()
