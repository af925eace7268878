package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profile is the file of --cpuprofile while the command runs.
var profile *os.File

// startProfile starts a CPU profile written to path ("" : none).
func startProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	profile = f
	return nil
}

// stopProfile ends and closes the profile, if one was started.
func stopProfile() {
	if profile == nil {
		return
	}
	pprof.StopCPUProfile()
	if err := profile.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "hyquant: --cpuprofile:", err)
	}
	profile = nil
}
