"""sim: a cycle-level simulator for DNN accelerators (systolic / directive PE arrays and ReRAM crossbars)."""
__version__ = "0.1.0"
