"""Fixtures of the sweep tests: a tiny GEMM trace and a spec writer (specs point at the shipped configs)."""
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[3]
SYSTOLIC_HW = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(parameters, **sweep_keys) -> path of a spec over a one-layer GEMM trace."""
    trace = tmp_path / "gemm.csv"
    trace.write_text("name,type,m,n,k\ng1,gemm,24,20,18\n")

    def write(parameters, *, name="spec", validate=None, constraints=None, **sweep):
        table = {"name": "test-sweep", "trace": "gemm.csv", "hardware": str(SYSTOLIC_HW), **sweep,
                 "parameters": parameters}
        if validate is not None:
            table["validate"] = validate
        if constraints is not None:
            table["constraints"] = constraints
        path = tmp_path / f"{name}.toml"
        path.write_text(tomli_w.dumps({"sweep": table}))
        return path

    return write
