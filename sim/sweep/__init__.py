"""Design-space exploration: screen every point with the analytical model, validate the Pareto front and the
top-k with the engine, and keep every finished point in an SQLite database so a killed sweep resumes.

    spec = load_sweep_spec("sweeps/systolic_gemm.toml")
    result = sweep(spec, "out/sweep")          # SweepResult; result.to_frame() -> pandas
    run_sweep_command(path, out_dir, dask=None, workers=None, console=console)   # what `sim sweep` does

Tasks run on a local process pool by default, or on a Dask cluster (`dask="tcp://..."`, or "local").
`sim.sweep(spec, out)` calls `sweep`: the package is callable, so the name means the same whether or not the
package has been imported (importing it rebinds the attribute `sim.sweep` to the package).
"""
import sys
import types

from sim.sweep.run import Disagreement, SweepResult, run_sweep_command, sweep
from sim.sweep.spec import Constraints, Parameter, SweepSpec, load_sweep_spec

__all__ = ["Constraints", "Disagreement", "Parameter", "SweepResult", "SweepSpec", "load_sweep_spec",
           "run_sweep_command", "sweep"]


class _CallablePackage(types.ModuleType):
    """`sim.sweep(...)` is `sim.sweep.sweep(...)`."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
