package routing

import (
	"errors"
	"syscall"
)

// LocalExhaustion reports whether a failed dial failed for lack of
// resources on this host (descriptors, ephemeral ports, buffers, memory)
// rather than because of the server: such a failure says nothing about the
// server's health, and every other server would fail the same way.
func LocalExhaustion(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EADDRNOTAVAIL} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
