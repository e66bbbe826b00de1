"""Writers only: report.json / report.csv, SCALE-Sim-style reports, the bandwidth trace, terminal tables, plots.

Every writer takes a RunResult (engine or analytical, systolic or crossbar) and computes nothing of its own
beyond unit conversions and ratios.
"""
from sim.report.table import print_table, render_table
from sim.report.writer import write_report

__all__ = ["print_table", "render_table", "write_report"]
