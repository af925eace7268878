//go:build hyquant_noembed

package models

import "os"

// A binary built with -tags hyquant_noembed is 30 MB smaller (for copying
// to another machine): it reads the models from the directory named by
// HYQUANT_MODELS, by default ./models (a checkout's root).
func init() {
	dir := os.Getenv("HYQUANT_MODELS")
	if dir == "" {
		dir = "models"
	}
	files = os.DirFS(dir)
}
