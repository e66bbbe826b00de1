// Channel partitioned (C-P): input channels (C) across the PEs, one filter (K) at a time; partial sums of
// the PEs are reduced across the array (spatial reduction) while the window slides over Y and X.
Dataflow {
	TemporalMap(1,1) N;
	TemporalMap(1,1) K;
	SpatialMap(1,1) C;
	TemporalMap(Sz(R),1) Y;
	TemporalMap(Sz(S),1) X;
	TemporalMap(Sz(R),Sz(R)) R;
	TemporalMap(Sz(S),Sz(S)) S;
}
