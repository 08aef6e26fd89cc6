package cloudsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	mrand "math/rand/v2"
	"strconv"
	"strings"
)

// randomBytes relies on crypto/rand.Read never failing (Go ≥ 1.24).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newWamid mimics Meta's message ids: "wamid." plus opaque base64.
func newWamid() string {
	return "wamid." + base64.RawURLEncoding.EncodeToString(randomBytes(30))
}

func newFBTraceID() string { return base64.RawURLEncoding.EncodeToString(randomBytes(8)) }

func newHexID(n int) string { return hex.EncodeToString(randomBytes(n)) }

// numericID looks like a Graph object id (16 digits).
func numericID() string { return strconv.FormatUint(mrand.Uint64N(9e15)+1e15, 10) }

// newChallenge is a random integer string, like the hub.challenge Meta sends.
func newChallenge() string { return strconv.FormatUint(mrand.Uint64N(1e10), 10) }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// digitsOf keeps only the digits of a display number such as "+1 555-0100".
func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
