// Package e2e holds the dashboard's browser suite (browser_test.go, build tag browser; the
// Playwright script dashboard.mjs). It has no code of its own.
package e2e
