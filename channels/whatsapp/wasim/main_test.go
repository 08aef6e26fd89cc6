package wasim_test

import (
	"os"
	"testing"

	signallog "go.mau.fi/libsignal/logger"
)

// quietSignalLog drops libsignal's own logging (it prints decryption errors to stdout, which
// the retry test provokes on purpose).
type quietSignalLog struct{}

func (quietSignalLog) Debug(string, string)   {}
func (quietSignalLog) Info(string, string)    {}
func (quietSignalLog) Warning(string, string) {}
func (quietSignalLog) Error(string, string)   {}
func (quietSignalLog) Configure(string)       {}

func TestMain(m *testing.M) {
	// libsignal initialises its package logger lazily without synchronisation: set it before
	// parallel tests use libsignal, or the race detector flags the first concurrent uses.
	var l signallog.Loggable = quietSignalLog{}
	signallog.Setup(&l)
	os.Exit(m.Run())
}
