package safetensors

import "testing"

// FuzzParse: any byte string is either a valid file whose tensors all lie
// inside the data section, or an error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add(build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(build(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(build(`{}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		for _, ti := range sf.Tensors {
			raw, _, err := sf.Raw(ti.Name)
			if err != nil || int64(len(raw)) != ti.NumElements()*int64(ti.DType.Size()) {
				t.Fatalf("tensor %q: %d bytes, err %v", ti.Name, len(raw), err)
			}
			if ti.DType.IsFloat() {
				if _, _, err := sf.Float32(ti.Name); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
