// Package openapi holds the gateway's committed OpenAPI documents: openapi.yaml (3.1) and
// openapi-3.0.yaml (its downgrade for 3.0 generators), which `make generate` writes from the
// code and the client SDKs are generated from. The gateway serves these very bytes.
package openapi

import _ "embed"

// YAML31 is openapi.yaml.
//
//go:embed openapi.yaml
var YAML31 []byte

// YAML30 is openapi-3.0.yaml.
//
//go:embed openapi-3.0.yaml
var YAML30 []byte
