package wasim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
)

// noisePattern is used directly as the initial hash and chaining key (it is exactly 32 bytes).
const noisePattern = "Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"

// noiseState is the responder side of WhatsApp's Noise XX handshake (mirror of whatsmeow's
// socket.NoiseHandshake, which only implements the initiator).
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return gcm, nil
}

func noiseIV(counter uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], counter)
	return iv
}

func newNoiseState(header []byte) (*noiseState, error) {
	ns := &noiseState{hash: []byte(noisePattern)}
	ns.salt = ns.hash
	var err error
	if ns.key, err = newGCM(ns.hash); err != nil {
		return nil, err
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.New()
	h.Write(ns.hash)
	h.Write(data)
	ns.hash = h.Sum(nil)
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ct := ns.key.Seal(nil, noiseIV(ns.counter), plaintext, ns.hash)
	ns.counter++
	ns.authenticate(ct)
	return ct
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := ns.key.Open(nil, noiseIV(ns.counter), ciphertext, ns.hash)
	ns.counter++
	if err != nil {
		return nil, fmt.Errorf("noise decrypt: %w", err)
	}
	ns.authenticate(ciphertext)
	return pt, nil
}

func (ns *noiseState) mixDH(priv, pub []byte) error {
	secret, err := curve25519.X25519(priv, pub)
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	write, read, err := extractAndExpand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.salt = write
	ns.counter = 0
	ns.key, err = newGCM(read)
	return err
}

// split returns the transport ciphers: the server reads what the client writes with the first key.
func (ns *noiseState) split() (read, write cipher.AEAD, err error) {
	k1, k2, err := extractAndExpand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if read, err = newGCM(k1); err != nil {
		return nil, nil, err
	}
	if write, err = newGCM(k2); err != nil {
		return nil, nil, err
	}
	return read, write, nil
}

func extractAndExpand(salt, data []byte) ([]byte, []byte, error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	out := make([]byte, 64)
	if _, err := io.ReadFull(h, out); err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	return out[:32], out[32:], nil
}
