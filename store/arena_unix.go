//go:build unix && !race

package store

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapArena maps n bytes of anonymous memory outside the Go heap. Pages
// take resident memory only once written. Running out of address space is
// fatal, as running out of memory in the Go heap is.
func mapArena(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("store: map a %d-byte arena: %v", n, err))
	}
	return b
}

// unmapArena hands an arena back; nothing may touch it afterwards.
func unmapArena(b []byte) {
	if err := unix.Munmap(b); err != nil {
		panic(fmt.Sprintf("store: unmap an arena: %v", err))
	}
}

// releasePages hands the memory of an empty page back to the operating
// system; the page reads as zeros when used again.
func releasePages(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
