package app

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
)

// OpenAPI30YAML is the OpenAPI 3.0 downgrade of doc for generators that do not read 3.1. huma's
// Downgrade keeps a few 3.1-only constructs, mended here:
//   - contentEncoding: base64 becomes format: base64, which 3.0 does not define: 3.0 spells
//     base64 bytes format: byte (and generators then produce []byte rather than string);
//   - the top-level webhooks field does not exist in 3.0: it is kept as the x-webhooks extension;
//   - contentMediaType next to format: binary is JSON Schema 2020-12: dropped;
//   - siblings of $ref are ignored by 3.0 tools (and flagged by linters): dropped.
func OpenAPI30YAML(doc *huma.OpenAPI) ([]byte, error) {
	specJSON, err := doc.Downgrade()
	if err != nil {
		return nil, fmt.Errorf("downgrade openapi: %w", err)
	}
	var spec any
	if err := json.Unmarshal(specJSON, &spec); err != nil {
		return nil, fmt.Errorf("read downgraded openapi: %w", err)
	}
	if m, ok := spec.(map[string]any); ok {
		if w, ok := m["webhooks"]; ok {
			m["x-webhooks"] = w
			delete(m, "webhooks")
		}
	}
	mend30(spec)
	fixed, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("write downgraded openapi: %w", err)
	}
	var buf bytes.Buffer
	if err := yaml.Convert(&buf, bytes.NewReader(fixed)); err != nil {
		return nil, fmt.Errorf("convert openapi to yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// mend30 rewrites the schemas of a downgraded document as OpenAPI30YAML describes.
func mend30(v any) {
	switch n := v.(type) {
	case map[string]any:
		if _, ok := n["$ref"]; ok {
			for k := range n {
				if k != "$ref" {
					delete(n, k)
				}
			}
			return
		}
		if n["type"] == "string" && n["format"] == "base64" {
			n["format"] = "byte"
		}
		if n["format"] == "binary" {
			delete(n, "contentMediaType")
		}
		for _, c := range n {
			mend30(c)
		}
	case []any:
		for _, c := range n {
			mend30(c)
		}
	}
}
