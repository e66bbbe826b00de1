// Input stationary systolic array (SCALE-Sim "is") written as directives, for a GEMM / FC layer
// (M x K) @ (K x N) on a rows x cols array: shipped for 32 x 32 (num_pes = 1024); for another array write
// its cols in place of every 32 (the Cluster is one array row of cols PEs, level 0 has rows of them).
// Correspondence: array rows hold K (the reduction), array columns hold M (one ofmap pixel each), each PE
// keeps one input element while N (the filters) streams one per step; partial sums of a column are reduced
// across the rows (spatial reduction). Folds: column folds (M) outer, row folds (K) inner, as SCALE-Sim.
// Limits: no skew or fill/drain cycles; operands arrive over the NoC instead of hopping PE to PE.
Dataflow {
	TemporalMap(32,32) M;
	SpatialMap(1,1) K;
	TemporalMap(1,1) N;
	Cluster(32, P);
	SpatialMap(1,1) M;
}
