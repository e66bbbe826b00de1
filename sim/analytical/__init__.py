"""Closed-form and reuse-analysis models; they return the same LayerResult as the engine."""
