"""Mapping: a Layer on a Hardware spec -> a Mapping (systolic folds, directive loop nest, crossbar placement).

Also the pure geometry both models share: operand matrices (operands), and the distinct ifmap elements an
im2col block touches (footprint), which sizes the tiles the engine fetches and the analytical model counts.
"""
