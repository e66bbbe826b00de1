"""The discrete-event side (SimPy): components that contend for time; per-fold events, never per cycle."""
