//go:build !hyquant_noembed

package models

import "embed"

//go:embed nemotron-h-mini/config.json nemotron-h-mini/tokenizer.json nemotron-h-mini/model.safetensors.index.json nemotron-h-mini/model-*.safetensors
//go:embed nemotron-h-8b-base-8k/config.json
var embedded embed.FS

func init() { files = embedded }
