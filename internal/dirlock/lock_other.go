//go:build !unix

package dirlock

import "os"

// On platforms without flock the lock file is written but not enforced.
func lockFile(f *os.File) error { return nil }

func lockShared(f *os.File) error { return nil }

func lockWait(f *os.File) error { return nil }

func unlockFile(f *os.File) {}
