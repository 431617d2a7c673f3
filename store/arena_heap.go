//go:build !unix || race

package store

// Under the race detector (and where there is no mmap) arenas are Go
// slices: the detector watches only the Go heap, and it is there to check
// that no chunk a snapshot reads is written (see DESIGN.md).

func mapArena(n int) []byte { return make([]byte, n) }

func unmapArena([]byte) {}

func releasePages(b []byte) { clear(b) }
