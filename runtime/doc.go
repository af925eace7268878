// Package runtime reads Nemotron-H checkpoints and runs them: the model
// config, checkpoint access, the exact parameter inventory, and the hybrid
// forward pass (Mamba2 mixers, squared-ReLU MLPs, grouped-query attention).
package runtime
