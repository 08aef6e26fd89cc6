package whatsapp

import (
	"encoding/base64"
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// qrPNGSize is the side of the rendered QR in pixels: large enough to scan from a screen.
const qrPNGSize = 256

// renderQR renders a QR payload as PNG.
func renderQR(text string) ([]byte, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, qrPNGSize)
	if err != nil {
		return nil, fmt.Errorf("render qr: %w", err)
	}
	return png, nil
}

// qrDataURL renders a QR payload as a base64 PNG data URL, the form the qr_code event carries.
func qrDataURL(text string) (string, error) {
	png, err := renderQR(text)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
