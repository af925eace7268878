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
func SSMStep(S []float32, P, N int, x, B, C, y []float32, dA, dt float32) {
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
