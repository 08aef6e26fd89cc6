package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
)

// openAPI30YAML is the OpenAPI 3.0 downgrade of doc for generators that do not read 3.1. huma
// downgrades JSON Schema's contentEncoding: base64 to format: base64, which 3.0 does not define;
// 3.0 spells base64 bytes format: byte, so generators produce []byte rather than string.
func openAPI30YAML(doc *huma.OpenAPI) ([]byte, error) {
	specJSON, err := doc.Downgrade()
	if err != nil {
		return nil, fmt.Errorf("downgrade openapi: %w", err)
	}
	var spec any
	if err := json.Unmarshal(specJSON, &spec); err != nil {
		return nil, fmt.Errorf("read downgraded openapi: %w", err)
	}
	fixBase64Format(spec)
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

func fixBase64Format(v any) {
	switch n := v.(type) {
	case map[string]any:
		if n["type"] == "string" && n["format"] == "base64" {
			n["format"] = "byte"
		}
		for _, c := range n {
			fixBase64Format(c)
		}
	case []any:
		for _, c := range n {
			fixBase64Format(c)
		}
	}
}
