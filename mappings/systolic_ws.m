// Weight stationary systolic array (SCALE-Sim "ws") written as directives, for a GEMM / FC layer
// (M x K) @ (K x N) on a rows x cols array: shipped for 32 x 32 (num_pes = 1024); for another array write
// its cols in place of every 32 (the Cluster is one array row of cols PEs, level 0 has rows of them).
// Correspondence: array rows hold K (the reduction), array columns hold N (one filter each), each PE keeps
// one weight while M (the ofmap pixels) streams one per step; the partial sums of a column are reduced
// across the rows (spatial reduction, the systolic column's adder chain). Folds: column folds (N) outer,
// row folds (K) inner, as SCALE-Sim.
// Limits: no skew or fill/drain (the systolic fold's 2 x rows + cols - 2 extra cycles in SCALE-Sim's
// convention); the reduction happens on the NoC's way back instead of PE to PE.
Dataflow {
	TemporalMap(32,32) N;
	SpatialMap(1,1) K;
	TemporalMap(1,1) M;
	Cluster(32, P);
	SpatialMap(1,1) N;
}
