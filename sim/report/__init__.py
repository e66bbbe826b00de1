"""Writers only: report.json / report.csv, SCALE-Sim-style reports, terminal tables, plots."""
