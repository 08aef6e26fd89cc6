package app

import "runtime/debug"

// Version is the binary's version: linked, the ldflags value (-X main.version=...); else the
// module version; else "dev".
func Version(linked string) string {
	if linked != "" {
		return linked
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
