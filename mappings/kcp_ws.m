// Weight stationary, NVDLA-like (KC-P): filters (K) across clusters of 64 PEs, channels (C) across the PEs
// of a cluster; each PE keeps its weights while the input window slides over Y and X.
// Dataflow-only: apply to every CONV layer of a trace (sim run ... --mapping mappings/kcp_ws.m).
Dataflow {
	SpatialMap(1,1) K;
	TemporalMap(64,64) C;
	TemporalMap(Sz(R),Sz(R)) R;
	TemporalMap(Sz(S),Sz(S)) S;
	TemporalMap(Sz(R),1) Y;
	TemporalMap(Sz(S),1) X;
	Cluster(64, P);
	SpatialMap(1,1) C;
	TemporalMap(Sz(R),1) Y;
	TemporalMap(Sz(S),1) X;
	TemporalMap(Sz(R),Sz(R)) R;
	TemporalMap(Sz(S),Sz(S)) S;
}
