package main

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant/calib"
)

// checkDevice validates a --device flag.
func checkDevice(device string) error {
	switch device {
	case "", "cpu", "cuda":
		return nil
	}
	return fmt.Errorf("--device %q is not cpu or cuda", device)
}

// openDevice opens the GPU for --device cuda, at once, so that a missing
// GPU fails before any work; for cpu it returns nil.
func openDevice(device string) (*cuda.Device, error) {
	if device != "cuda" {
		return nil, nil
	}
	dev, err := cuda.Open(0)
	if err != nil {
		return nil, fmt.Errorf("--device cuda: %w", err)
	}
	return dev, nil
}

// calibRunner opens the device (openDevice) and returns the calibrated
// pass's runner on it, fp32 products (the statistics GPTQ factorises should
// carry no TF32 or bf16 rounding), and the device's close; for cpu, no
// runner and a close that does nothing.
func calibRunner(device string) (calib.NewRunner, func(), error) {
	dev, err := openDevice(device)
	if err != nil || dev == nil {
		return nil, func() {}, err
	}
	return cudaDevice{dev}.Calibration(), dev.Close, nil
}
