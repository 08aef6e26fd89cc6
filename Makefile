# Generated artefacts and SDK checks. Go always builds without cgo here (modernc SQLite).
#
#   make generate          OpenAPI documents from the gateway, then the Go and TypeScript clients
#   make check-generated   generate, then fail when anything under openapi/ changed (stale files)
#   make lint-spec         Spectral (.spectral.yaml) and Redocly's recommended rules on both OpenAPI documents
#   make test-sdk          npm ci + npm test in openapi/ts (builds and runs the real gateway)
#   make release           static gateway, hub and wasim binaries in dist/, built with Go 1.27.3

export CGO_ENABLED := 0

GO       ?= go
NPM      ?= npm
NPX      ?= npx
SPECTRAL ?= $(NPX) --yes @stoplight/spectral-cli@6.16.3
REDOCLY  ?= $(NPX) --yes @redocly/cli@2.77.0
TS_DIR   := openapi/ts

.PHONY: generate generate-spec generate-go-client generate-ts-client check-generated lint-spec test-sdk release

generate: generate-spec generate-go-client generate-ts-client

generate-spec:
	$(GO) generate ./cmd/gateway

generate-go-client: generate-spec
	$(GO) generate ./openapi/client

# npm ci writes node_modules/.package-lock.json: reinstall only when the lock file changes.
$(TS_DIR)/node_modules/.package-lock.json: $(TS_DIR)/package-lock.json $(TS_DIR)/package.json
	cd $(TS_DIR) && $(NPM) ci --no-audit --no-fund

generate-ts-client: generate-spec $(TS_DIR)/node_modules/.package-lock.json
	cd $(TS_DIR) && $(NPM) run --silent generate

check-generated: generate
	@git diff --exit-code -- openapi || { echo "generated files under openapi/ are stale: run make generate and commit" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- openapi); \
	if [ -n "$$untracked" ]; then echo "untracked generated files (commit them):" >&2; echo "$$untracked" >&2; exit 1; fi

lint-spec:
	$(SPECTRAL) lint --fail-severity=error openapi/openapi.yaml
	$(SPECTRAL) lint --fail-severity=error openapi/openapi-3.0.yaml
	$(REDOCLY) lint openapi/openapi.yaml openapi/openapi-3.0.yaml

test-sdk:
	cd $(TS_DIR) && $(NPM) ci --no-audit --no-fund && $(NPM) test

# Release binaries: static, trimmed, built with the toolchain go.mod names (fetched from the Go
# module proxy when the local Go is older).
RELEASE_TOOLCHAIN ?= go1.27.3
VERSION ?= dev
release:
	GOTOOLCHAIN=$(RELEASE_TOOLCHAIN) $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o dist/ ./cmd/gateway ./cmd/hub ./cmd/wasim
