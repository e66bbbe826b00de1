"""Design-space exploration: screen with the analytical model, validate with the engine, resumable."""
