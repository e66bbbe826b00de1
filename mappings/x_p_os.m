// Output stationary, ShiDianNao-like (X-P): output columns (X) across the PEs; each PE keeps its output
// while the channels (C) and the filter window (R, S) are accumulated innermost.
Dataflow {
	TemporalMap(1,1) N;
	TemporalMap(1,1) K;
	TemporalMap(Sz(R),1) Y;
	SpatialMap(Sz(S),1) X;
	TemporalMap(1,1) C;
	TemporalMap(Sz(R),Sz(R)) R;
	TemporalMap(Sz(S),Sz(S)) S;
}
