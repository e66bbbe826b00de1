"""`import sim` and the `sim` command load the heavy packages (pydantic models, numpy, numba, simpy, the sweep
package, rich) only when a command needs them; the public names still resolve as before."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "numpy", "numba", "simpy", "rich", "pandas", "sim.sweep", "sim.hardware", "sim.engine")


def loaded_after(code: str) -> list[str]:
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] if not m.startswith('sim.') else '.'.join(m.split('.')[:2])"
             f" for m in sys.modules}})))")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("code", ["import sim", "import sim.cli", "import sim.api"])
def test_importing_loads_nothing_heavy(code):
    loaded = loaded_after(code)
    assert not [name for name in HEAVY if name in loaded], loaded


def test_help_loads_nothing_heavy():
    loaded = loaded_after("import sys\nsys.argv = ['sim', '--help']\nfrom sim.cli import app\n"
                          "try:\n    app()\nexcept SystemExit:\n    pass")
    assert not [name for name in HEAVY if name in loaded], loaded


def test_public_names_resolve_lazily():
    import sim
    from sim.hardware.spec import Hardware
    from sim.sweep.run import sweep as sweep_function

    assert sim.Hardware is Hardware
    assert callable(sim.load_trace) and callable(sim.simulate)
    assert set(sim.__all__) <= set(dir(sim))
    with pytest.raises(AttributeError):
        sim.not_a_name  # noqa: B018
    # sim.sweep is the sweep package, called as the sweep function.
    assert callable(sim.sweep) and sim.sweep.sweep is sweep_function


def test_sim_sweep_runs_a_sweep(write_spec_module, tmp_path):
    import sim

    result = sim.sweep(write_spec_module, tmp_path / "out", workers=0, export=False)
    assert result.screened_now == 2


@pytest.fixture
def write_spec_module(tmp_path):
    import tomli_w

    (tmp_path / "gemm.csv").write_text("name,type,m,n,k\ng1,gemm,24,20,18\n")
    spec = {"sweep": {"name": "lazy", "trace": "gemm.csv",
                      "hardware": str(ROOT / "hw_configs" / "scalesim_32x32_ws.toml"),
                      "validate": {"engine": "none"}, "parameters": {"pe_array.rows": [4, 8]}}}
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps(spec))
    return path
