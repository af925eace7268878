package runtime

// Clone returns a model that shares m's weights but owns its projections:
// replacing a Linear of the clone (through its Linears) or its Embed leaves m
// as it is. Searches use it to try one tensor's precision on a copy of the
// model while the original keeps serving.
func (m *Model) Clone() *Model {
	c := *m
	c.Blocks = make([]*Block, len(m.Blocks))
	for i, b := range m.Blocks {
		nb := *b
		if b.Mamba != nil {
			x := *b.Mamba
			nb.Mamba = &x
		}
		if b.MLP != nil {
			x := *b.MLP
			nb.MLP = &x
		}
		if b.Attention != nil {
			x := *b.Attention
			nb.Attention = &x
		}
		c.Blocks[i] = &nb
	}
	return &c
}
