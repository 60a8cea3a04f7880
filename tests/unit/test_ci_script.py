"""The CI entry point stays a valid shell script that runs `make test`."""

import subprocess
from pathlib import Path

CI = Path(__file__).resolve().parents[2] / ".ci" / "run"


def test_ci_script_parses_and_ends_by_running_make_test():
    assert subprocess.run(["bash", "-n", str(CI)], capture_output=True).returncode == 0
    commands = [line for line in CI.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "make test"
    assert "export OMNIRETAIL_TEST_DATABASE_URL=" in CI.read_text()
