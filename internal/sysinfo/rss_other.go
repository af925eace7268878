//go:build !unix

package sysinfo

func peakRSS() int64 { return 0 }
