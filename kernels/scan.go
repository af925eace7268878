package kernels

// SSMStep advances one head of a Mamba2 selective state space by one token
// and writes its output:
//
//	S[p][n] = S[p][n]*dA + dt*x[p]*B[n]
//	y[p]    = sum_n S[p][n]*C[n]
//
// S is P×N row-major (P = head dimension, N = state size); x and y have P
// entries, B and C have N. The decay dA = exp(dt*A) is applied to the state
// as it runs, so long sequences never form cumulative sums of log-decays.
//
// With AVX-512 or AVX2 the products are fused multiply-adds and y[p] is
// summed in several partial sums, so results differ from the portable loop
// by float32 rounding. For many tokens of one head SSMScan is faster.
func SSMStep(S []float32, P, N int, x, B, C, y []float32, dA, dt float32) {
	checkSSM(S, P, N, 1, x, 0, B, C, 0, []float32{dA}, []float32{dt}, 0, y, 0)
	if ssmScanVec(S, P, N, 1, x, 0, B, C, 0, []float32{dA}, []float32{dt}, 0, 0, y, 0) {
		return
	}
	ssmStepGo(S, P, N, x, B, C, y, dA, dt)
}

// SSMScan advances one head of a Mamba2 selective state space through T
// consecutive tokens and writes their outputs including the D skip term:
// for t = 0 … T−1 it does what
//
//	SSMStep(S, P, N, x[t*xStride:], B[t*bcStride:], C[t*bcStride:], y[t*yStride:],
//		dA[t*dStride], dt[t*dStride])
//	y[t*yStride+p] += D * x[t*xStride+p]   (p < P)
//
// does, in one call. The strides (in float32 elements, ≥ 0) let the inputs
// be read in place from token-major buffers: in Mamba2 x, B and C of token
// t are slices of the conv output row t (xStride = bcStride = conv width),
// dt and dA are column h of a tokens × heads matrix (dStride = heads) and y
// is columns h·P … h·P+P−1 of a tokens × inner matrix (yStride = inner). y
// must not overlap S, x, B, C, dA or dt. For the Mamba2 mixer, with dA[t*H+h]
// = Exp32(dt[t*H+h]*A[h]) filled next to dt, one call per head replaces the
// per-token loop:
//
//	SSMScan(state, P, N, n, xbc[h*P:], cd, xbc[I+g*N:], xbc[I+G*N+g*N:], cd,
//		dA[h:], dt[h:], H, D[h], y[h*P:], I)
//
// With AVX-512 and N = 128 the state is advanced in blocks of 16 rows
// through chunks of tokens, so a block stays in L1 and the call overhead is
// paid once per chunk; the results equal SSMStep's up to float32 rounding
// (D·x is fused into the final sum).
func SSMScan(S []float32, P, N, T int, x []float32, xStride int, B, C []float32, bcStride int,
	dA, dt []float32, dStride int, D float32, y []float32, yStride int) {
	if T <= 0 {
		return
	}
	checkSSM(S, P, N, T, x, xStride, B, C, bcStride, dA, dt, dStride, y, yStride)
	if ssmScanVec(S, P, N, T, x, xStride, B, C, bcStride, dA, dt, dStride, D, y, yStride) {
		return
	}
	for t := 0; t < T; t++ {
		xt, yt := x[t*xStride:t*xStride+P], y[t*yStride:t*yStride+P]
		ssmStepGo(S, P, N, xt, B[t*bcStride:t*bcStride+N], C[t*bcStride:t*bcStride+N], yt, dA[t*dStride], dt[t*dStride])
		for p, xv := range xt {
			yt[p] += D * xv
		}
	}
}

// checkSSM panics unless every slice holds what T tokens read and write;
// the assembly kernels rely on it.
func checkSSM(S []float32, P, N, T int, x []float32, xs int, B, C []float32, bcs int, dA, dt []float32, ds int, y []float32, ys int) {
	if P < 1 || N < 1 || xs < 0 || bcs < 0 || ds < 0 || ys < 0 {
		panic("kernels: SSM scan with P or N below 1 or a negative stride")
	}
	last := T - 1
	_ = S[P*N-1]
	_ = x[last*xs+P-1]
	_ = B[last*bcs+N-1]
	_ = C[last*bcs+N-1]
	_ = dA[last*ds]
	_ = dt[last*ds]
	_ = y[last*ys+P-1]
}

// ssmStepGo is SSMStep in portable Go.
func ssmStepGo(S []float32, P, N int, x, B, C, y []float32, dA, dt float32) {
	B, C = B[:N], C[:N]
	for p := 0; p < P; p++ {
		row := S[p*N : p*N+N]
		u := dt * x[p]
		var acc float32
		for n := range row {
			s := row[n]*dA + u*B[n]
			row[n] = s
			acc += s * C[n]
		}
		y[p] = acc
	}
}
