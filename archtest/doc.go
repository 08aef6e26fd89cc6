// Package archtest holds tests of the module's architecture: which packages may import which,
// read from the Go toolchain's own view of the import graph (go list -deps).
package archtest
