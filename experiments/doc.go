// Package experiments reads experiment configs (YAML sweeps of precision
// plans over one model), runs them with resumable, atomically written
// results, and hands the results to package reports.
package experiments
