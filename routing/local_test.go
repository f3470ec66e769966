package routing

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestLocalExhaustion(t *testing.T) {
	dial := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", errno)}
	}
	tests := []struct {
		name  string
		err   error
		local bool
	}{
		{"out of descriptors", dial(syscall.EMFILE), true},
		{"system out of descriptors", dial(syscall.ENFILE), true},
		{"out of ephemeral ports", dial(syscall.EADDRNOTAVAIL), true},
		{"wrapped", fmt.Errorf("replay first packet: %w", dial(syscall.ENOBUFS)), true},
		{"refused: the server", dial(syscall.ECONNREFUSED), false},
		{"timeout: the server or the network", dial(syscall.ETIMEDOUT), false},
		{"not a syscall error", errors.New("i/o timeout"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LocalExhaustion(tc.err); got != tc.local {
				t.Errorf("LocalExhaustion(%v) = %v, want %v", tc.err, got, tc.local)
			}
		})
	}
}
