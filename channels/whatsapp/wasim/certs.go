package wasim

import (
	"fmt"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

const (
	intermediateSerial = 1
	leafSerial         = 2
)

// buildCertChain signs an intermediate with the root key and a leaf for the server's Noise
// static key with the intermediate, the chain whatsmeow verifies in verifyServerCert.
func buildCertChain(root, static *keys.KeyPair, validity time.Duration, now time.Time) ([]byte, error) {
	intermediate := keys.NewKeyPair()
	notBefore := uint64(now.Add(-time.Hour).Unix())
	notAfter := uint64(now.Add(validity).Unix())
	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(intermediateSerial),
		IssuerSerial: proto.Uint32(0),
		Key:          intermediate.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal intermediate details: %w", err)
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(leafSerial),
		IssuerSerial: proto.Uint32(intermediateSerial),
		Key:          static.Pub[:],
		NotBefore:    proto.Uint64(notBefore),
		NotAfter:     proto.Uint64(notAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal leaf details: %w", err)
	}
	interSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*root.Priv), interDetails)
	leafSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*intermediate.Priv), leafDetails)
	chain, err := proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: interDetails, Signature: interSig[:]},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig[:]},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal cert chain: %w", err)
	}
	return chain, nil
}
