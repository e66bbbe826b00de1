"""Mapping: a Layer on a Hardware spec -> a Mapping (systolic folds, directive loop nest, crossbar placement)."""
