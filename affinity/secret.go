package affinity

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
)

// ReadSecret reads the shared peer key from path: 16, 24 or 32 bytes,
// written as hex or base64 text (standard alphabet, padded or not; tried
// in that order), surrounding white space ignored; only content that is
// neither is taken as the raw key bytes. To make one:
// head -c 32 /dev/urandom | base64 > secret.
func ReadSecret(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("affinity: read secret %s: %w", path, err)
	}
	key, err := parseSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("affinity: read secret %s: %w", path, err)
	}
	return key, nil
}

func parseSecret(raw []byte) ([]byte, error) {
	valid := func(k []byte) bool { return len(k) == 16 || len(k) == 24 || len(k) == 32 }
	text := string(bytes.TrimSpace(raw))
	decoders := []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
	}
	decoded := -1
	for _, dec := range decoders {
		k, err := dec(text)
		if err != nil {
			continue
		}
		if valid(k) {
			return k, nil
		}
		decoded = len(k)
	}
	if decoded >= 0 {
		return nil, fmt.Errorf("the text decodes to %d bytes, want 16, 24 or 32", decoded)
	}
	if valid(raw) {
		return raw, nil
	}
	return nil, fmt.Errorf("want 16, 24 or 32 bytes as hex, base64 or raw; got %d bytes that are none of these", len(raw))
}
