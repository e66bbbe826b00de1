"""The discrete-event side (SimPy): components that contend for time; per-fold events, never per cycle.

- `clock`: the SimPy environment of the systolic engine (counts events, takes timed calls) and `Marker`;
- `dram`: off-chip memory models behind one small interface (`request(kind, address, size_bytes) -> Event`),
  chosen by name (`bandwidth`, `bank_row`);
- `buffer`: one operand's SRAM as slots that tiles occupy (double buffering = two slots);
- `tiling`: pure planning of which tiles each step of a layer needs;
- `pe_array`: the PE array's steps (wait for tiles, compute, drain, release);
- `simulate`: the driver, `simulate_layer` / `simulate_trace` -> LayerResult / RunResult;
- `layer_stats`: per-layer statistics once a run's clock has stopped (bandwidth windows, LayerResult records);
- `crossbar`: ReRAM tiles (crossbar reads, shared ADCs, eDRAM, bus) and the inter-layer pipeline;
- `noc`: the L2 <-> PE network of a directive array (`transfer(words, kind, fanout) -> Event`; multicast, reduce);
- `directives`: the engine for MAESTRO-style directive mappings (`simulate_directive_layer` / `_trace`).
"""
