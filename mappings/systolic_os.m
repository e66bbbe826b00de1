// Output stationary systolic array (SCALE-Sim "os") written as directives, for a GEMM / FC layer
// (M x K) @ (K x N) on a rows x cols array: shipped for 32 x 32 (num_pes = 1024); for another array write
// its cols in place of every 32 (the Cluster is one array row of cols PEs, level 0 has rows of them).
// Correspondence: array rows hold M (one output pixel each), array columns hold N (one filter each), and
// K is streamed one element per step; folds run column folds (N) outer, row folds (M) inner, as SCALE-Sim.
// Limits: a directive step is one lock-step cycle of all PEs, so the skew and fill/drain of the systolic
// wavefront (rows + used rows + used cols - 2 cycles per fold in the native convention) do not exist here;
// operands reach every PE over the NoC (multicast) instead of hopping PE to PE.
Dataflow {
	TemporalMap(32,32) N;
	SpatialMap(1,1) M;
	TemporalMap(1,1) K;
	Cluster(32, P);
	SpatialMap(1,1) N;
}
