package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// Control characters have no business in any input of the API: ids, addresses, filters and
// headers never contain one, and text bodies only the line-breaking ones. A NUL reaching the
// database fails there (PostgreSQL refuses it in text, SQLite truncates), so they are refused at
// the edge, for every operation, with one 422 naming where.

// controlInPath reports whether s holds a control character (C0 or DEL) or invalid UTF-8.
func controlInPath(s string) bool {
	return !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// controlInText is controlInPath allowing tab, line feed and carriage return.
func controlInText(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
}

// badInput is where and what an input holds that it must not.
type badInput struct {
	location string
	message  string
}

// checkInputs looks at the path, the query and (for JSON bodies, which it reads and restores)
// the body. limit bounds what it reads of the body; a larger body is left to the limit check
// that follows.
func checkInputs(r *http.Request, limit int64) (*badInput, error) {
	if controlInPath(r.URL.Path) {
		return &badInput{location: "path", message: "control characters are not allowed in the path"}, nil
	}
	for name, values := range r.URL.Query() {
		if controlInPath(name) {
			return &badInput{location: "query", message: "control characters are not allowed in query parameter names"}, nil
		}
		for _, v := range values {
			if controlInPath(v) {
				return &badInput{location: "query." + name, message: "control characters are not allowed"}, nil
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody || !jsonBody(r.Header.Get("Content-Type")) {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	rest := r.Body
	r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(raw), rest), Closer: rest}
	if err != nil || int64(len(raw)) > limit {
		return nil, err // read errors and oversize bodies are the decoder's and the limit's to report
	}
	return controlInJSON(raw), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func jsonBody(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// controlInJSON walks a JSON document and reports the first string (key or value) holding a
// control character other than tab and line breaks, with its location in huma's form
// (body.media.fileName, body.mentions[2]). Malformed JSON is the decoder's to report: nil.
func controlInJSON(raw []byte) *badInput {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		array bool
		index int
		key   string
	}
	var stack []frame
	location := func() string {
		var b strings.Builder
		b.WriteString("body")
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			} else if f.key != "" {
				b.WriteString("." + f.key)
			}
		}
		return b.String()
	}
	expectKey := func() bool { return len(stack) > 0 && !stack[len(stack)-1].array && stack[len(stack)-1].key == "" }
	// afterValue moves the enclosing container past a value.
	afterValue := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.array {
			top.index++
		} else {
			top.key = ""
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{})
			case '[':
				stack = append(stack, frame{array: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
				afterValue()
			}
		case string:
			if expectKey() {
				if strings.IndexFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
					return &badInput{location: location(), message: "control characters are not allowed in property names"}
				}
				stack[len(stack)-1].key = t
				continue
			}
			if i := strings.IndexFunc(t, controlInText); i >= 0 {
				r, _ := utf8.DecodeRuneInString(t[i:])
				return &badInput{location: location(), message: fmt.Sprintf("control character %U is not allowed", r)}
			}
			afterValue()
		default:
			afterValue()
		}
	}
}

// writeBadInput answers 422 in huma's validation shape.
func writeBadInput(w http.ResponseWriter, bad *badInput) {
	body, err := json.Marshal(&huma.ErrorModel{Type: problemType, Title: http.StatusText(http.StatusUnprocessableEntity),
		Status: http.StatusUnprocessableEntity, Detail: "validation failed",
		Errors: []*huma.ErrorDetail{{Location: bad.location, Message: bad.message}}})
	if err != nil {
		WriteProblem(w, http.StatusUnprocessableEntity, bad.location+": "+bad.message)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnprocessableEntity)
	_, _ = w.Write(append(body, '\n'))
}
