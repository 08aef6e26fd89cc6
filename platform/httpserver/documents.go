package httpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	humayaml "github.com/danielgtaylor/huma/v2/yaml"
	"go.yaml.in/yaml/v3"
)

// Documents are the OpenAPI documents the server serves on /openapi.yaml and /openapi-3.0.yaml
// (and their .json forms, converted from them), instead of the ones huma would generate: the
// gateway serves exactly the files committed to the repository, which its SDKs are generated
// from, and huma's own 3.0 downgrade keeps constructs 3.0 does not allow.
type Documents struct {
	YAML31 []byte
	YAML30 []byte
}

// DocumentsLoader returns the documents to serve.
type DocumentsLoader func() (Documents, error)

// WithDocuments serves the documents load returns (called once, at the first request for one,
// when every operation is registered). Without it the server serves its own API's documents,
// the 3.0 one mended as OpenAPI30YAML does.
func WithDocuments(load DocumentsLoader) Option {
	return func(o *options) { o.documents = load }
}

// OwnDocuments renders doc as the served documents: 3.1 as huma writes it, 3.0 mended.
func OwnDocuments(doc *huma.OpenAPI) (Documents, error) {
	y31, err := doc.YAML()
	if err != nil {
		return Documents{}, fmt.Errorf("openapi yaml: %w", err)
	}
	y30, err := OpenAPI30YAML(doc)
	if err != nil {
		return Documents{}, err
	}
	return Documents{YAML31: y31, YAML30: y30}, nil
}

// servedDocuments lazily loads the documents and their JSON forms.
type servedDocuments struct {
	load DocumentsLoader
	once sync.Once
	by   map[string][]byte // path suffix → body
	err  error
}

func (d *servedDocuments) body(suffix string) ([]byte, error) {
	d.once.Do(func() {
		docs, err := d.load()
		if err != nil {
			d.err = err
			return
		}
		d.by = map[string][]byte{".yaml": docs.YAML31, "-3.0.yaml": docs.YAML30}
		for _, s := range []string{".yaml", "-3.0.yaml"} {
			j, err := yamlToJSON(d.by[s])
			if err != nil {
				d.err = fmt.Errorf("openapi%s as json: %w", s, err)
				return
			}
			d.by[strings.TrimSuffix(s, ".yaml")+".json"] = j
		}
	})
	if d.err != nil {
		return nil, d.err
	}
	return d.by[suffix], nil
}

// handler replaces huma's handler of a document route with the served documents'.
func (d *servedDocuments) handler(openAPIPath string, op *huma.Operation, fallback func(huma.Context)) func(huma.Context) {
	suffix, ok := strings.CutPrefix(op.Path, openAPIPath)
	if !ok || op.Method != http.MethodGet {
		return fallback
	}
	contentType := map[string]string{".yaml": "application/openapi+yaml", "-3.0.yaml": "application/openapi+yaml",
		".json": "application/openapi+json", "-3.0.json": "application/openapi+json"}[suffix]
	if contentType == "" {
		return fallback
	}
	return func(ctx huma.Context) {
		body, err := d.body(suffix)
		if err != nil {
			ctx.SetStatus(http.StatusInternalServerError)
			return
		}
		ctx.SetHeader("Content-Type", contentType)
		_, _ = ctx.BodyWriter().Write(body)
	}
}

func yamlToJSON(b []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

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
	if err := humayaml.Convert(&buf, bytes.NewReader(fixed)); err != nil {
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
