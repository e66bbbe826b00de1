// Row stationary, Eyeriss-like (YR-P): output rows (Y) across clusters of Sz(R) PEs; inside a cluster PE i
// holds filter row i and input row y+i (Y and R mapped together), and the partial sums of the cluster's
// PEs are reduced into one output row (spatial reduction).
Dataflow {
	TemporalMap(1,1) N;
	TemporalMap(1,1) K;
	TemporalMap(1,1) C;
	SpatialMap(Sz(R),1) Y;
	TemporalMap(Sz(S),1) X;
	TemporalMap(Sz(R),Sz(R)) R;
	TemporalMap(Sz(S),Sz(S)) S;
	Cluster(Sz(R), P);
	SpatialMap(1,1) Y;
	SpatialMap(1,1) R;
	TemporalMap(Sz(S),Sz(S)) S;
}
