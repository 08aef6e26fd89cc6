package cloudsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// sendRequest is a validated POST /{phone-number-id}/messages body.
type sendRequest struct {
	to, waID, msgType string
	template          *Template // set for template messages
}

var mediaTypes = map[string]bool{"image": true, "video": true, "audio": true, "document": true, "sticker": true}

// validateSendLocked checks a send body the way the Cloud API does before accepting it.
func (s *Server) validateSendLocked(p *phone, body map[string]any) (sendRequest, *graphError) {
	var req sendRequest
	if product, _, _ := field[string](body, "messaging_product", "messaging_product"); product != "whatsapp" {
		return req, invalidParam("Param messaging_product must be 'whatsapp'")
	}
	if rt, present, gerr := field[string](body, "recipient_type", "recipient_type"); gerr != nil || present && rt != "individual" {
		return req, invalidParam("Param recipient_type must be 'individual'")
	}
	to, gerr := requiredString(body, "to", "to")
	if gerr != nil {
		return req, gerr
	}
	digits := strings.TrimPrefix(to, "+")
	if !isDigits(digits) || len(digits) < 5 || len(digits) > 15 {
		return req, invalidParam("Param to must be a phone number: digits, optionally with a leading +")
	}
	req.to, req.waID, req.msgType = to, digits, "text"
	if t, present, gerr := field[string](body, "type", "type"); gerr != nil {
		return req, gerr
	} else if present {
		req.msgType = t
	}
	switch {
	case req.msgType == "text":
		gerr = validateText(body)
	case mediaTypes[req.msgType]:
		gerr = s.validateMediaLocked(p, body, req.msgType)
	case req.msgType == "location":
		gerr = validateLocation(body)
	case req.msgType == "contacts":
		gerr = validateContacts(body)
	case req.msgType == "reaction":
		gerr = validateReaction(body)
	case req.msgType == "template":
		req.template, gerr = validateTemplateMessageLocked(p, body)
	case req.msgType == "interactive":
		gerr = validateInteractive(body)
	default:
		gerr = invalidParam("Param type must be one of {text, image, video, audio, document, sticker, location, contacts, reaction, template, interactive}")
	}
	if gerr != nil {
		return req, gerr
	}
	if ctx, present, gerr := field[map[string]any](body, "context", "context"); gerr != nil {
		return req, gerr
	} else if present {
		if _, gerr := requiredString(ctx, "message_id", "context['message_id']"); gerr != nil {
			return req, gerr
		}
	}
	return req, nil
}

func validateText(body map[string]any) *graphError {
	text, gerr := requiredObject(body, "text", "text")
	if gerr != nil {
		return gerr
	}
	b, gerr := requiredString(text, "body", "text['body']")
	if gerr != nil {
		return gerr
	}
	if utf8.RuneCountInString(b) > 4096 {
		return invalidParam("Param text['body'] must be at most 4096 characters long")
	}
	_, _, gerr = field[bool](text, "preview_url", "text['preview_url']")
	return gerr
}

func (s *Server) validateMediaLocked(p *phone, body map[string]any, typ string) *graphError {
	m, gerr := requiredObject(body, typ, typ)
	if gerr != nil {
		return gerr
	}
	id, _, gerr := field[string](m, "id", typ+"['id']")
	if gerr != nil {
		return gerr
	}
	link, _, gerr := field[string](m, "link", typ+"['link']")
	if gerr != nil {
		return gerr
	}
	switch {
	case (id == "") == (link == ""):
		return invalidParam("Param %s must contain exactly one of id or link", typ)
	case id != "":
		if obj := s.media[id]; obj == nil || obj.owner != p.waba {
			return invalidParam("Param %s['id'] is not a valid media id", typ)
		}
	default:
		if u, err := url.Parse(link); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalidParam("Param %s['link'] must be an http(s) URL", typ)
		}
	}
	caption, hasCaption, gerr := field[string](m, "caption", typ+"['caption']")
	switch {
	case gerr != nil:
		return gerr
	case hasCaption && (typ == "audio" || typ == "sticker"):
		return invalidParam("Param %s['caption'] is not supported for %s", typ, typ)
	case utf8.RuneCountInString(caption) > 1024:
		return invalidParam("Param %s['caption'] must be at most 1024 characters long", typ)
	}
	if _, hasName, gerr := field[string](m, "filename", typ+"['filename']"); gerr != nil {
		return gerr
	} else if hasName && typ != "document" {
		return invalidParam("Param %s['filename'] is only supported for documents", typ)
	}
	return nil
}

func validateLocation(body map[string]any) *graphError {
	loc, gerr := requiredObject(body, "location", "location")
	if gerr != nil {
		return gerr
	}
	for _, c := range []struct {
		key   string
		limit float64
	}{{"latitude", 90}, {"longitude", 180}} {
		v, ok := number(loc[c.key])
		if !ok || v < -c.limit || v > c.limit {
			return invalidParam("Param location['%s'] must be a number between -%v and %v", c.key, c.limit, c.limit)
		}
	}
	for _, key := range []string{"name", "address"} {
		if _, _, gerr := field[string](loc, key, "location['"+key+"']"); gerr != nil {
			return gerr
		}
	}
	return nil
}

// number accepts a JSON number or a numeric string, as the Cloud API does for coordinates.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

func validateContacts(body map[string]any) *graphError {
	list, _, gerr := field[[]any](body, "contacts", "contacts")
	if gerr != nil {
		return gerr
	}
	if len(list) == 0 {
		return invalidParam("Param contacts must be a non-empty array")
	}
	for i, c := range list {
		path := fmt.Sprintf("contacts[%d]", i)
		cm, ok := c.(map[string]any)
		if !ok {
			return invalidParam("Param %s must be a JSON object", path)
		}
		name, gerr := requiredObject(cm, "name", path+"['name']")
		if gerr != nil {
			return gerr
		}
		if _, gerr := requiredString(name, "formatted_name", path+"['name']['formatted_name']"); gerr != nil {
			return gerr
		}
	}
	return nil
}

func validateReaction(body map[string]any) *graphError {
	r, gerr := requiredObject(body, "reaction", "reaction")
	if gerr != nil {
		return gerr
	}
	if _, gerr := requiredString(r, "message_id", "reaction['message_id']"); gerr != nil {
		return gerr
	}
	// An empty emoji removes a reaction, so only presence is required.
	if _, present, gerr := field[string](r, "emoji", "reaction['emoji']"); gerr != nil {
		return gerr
	} else if !present {
		return invalidParam("Param reaction['emoji'] is required")
	}
	return nil
}

var templateParamTypes = map[string]bool{
	"text": true, "currency": true, "date_time": true, "image": true, "document": true,
	"video": true, "location": true, "payload": true, "coupon_code": true, "action": true,
}

// validateTemplateMessageLocked checks the template object and resolves the approved template.
func validateTemplateMessageLocked(p *phone, body map[string]any) (*Template, *graphError) {
	t, gerr := requiredObject(body, "template", "template")
	if gerr != nil {
		return nil, gerr
	}
	name, gerr := requiredString(t, "name", "template['name']")
	if gerr != nil {
		return nil, gerr
	}
	lang, gerr := requiredObject(t, "language", "template['language']")
	if gerr != nil {
		return nil, gerr
	}
	code, gerr := requiredString(lang, "code", "template['language']['code']")
	if gerr != nil {
		return nil, gerr
	}
	comps, _, gerr := field[[]any](t, "components", "template['components']")
	if gerr != nil {
		return nil, gerr
	}
	bodyParams := 0
	for i, c := range comps {
		path := fmt.Sprintf("template['components'][%d]", i)
		cm, ok := c.(map[string]any)
		if !ok {
			return nil, invalidParam("Param %s must be a JSON object", path)
		}
		typ, gerr := requiredString(cm, "type", path+"['type']")
		if gerr != nil {
			return nil, gerr
		}
		typ = strings.ToLower(typ)
		switch typ {
		case "header", "body":
		case "button":
			if _, gerr := requiredString(cm, "sub_type", path+"['sub_type']"); gerr != nil {
				return nil, gerr
			}
			if _, ok := number(cm["index"]); !ok {
				return nil, invalidParam("Param %s['index'] is required", path)
			}
		default:
			return nil, invalidParam("Param %s['type'] must be one of {header, body, button}", path)
		}
		params, _, gerr := field[[]any](cm, "parameters", path+"['parameters']")
		if gerr != nil {
			return nil, gerr
		}
		for j, prm := range params {
			if gerr := validateTemplateParam(prm, fmt.Sprintf("%s['parameters'][%d]", path, j)); gerr != nil {
				return nil, gerr
			}
		}
		if typ == "body" {
			bodyParams += len(params)
		}
	}
	tpl := p.waba.findTemplate(name, code)
	if tpl == nil || tpl.Status != "APPROVED" {
		return nil, newGraphError(http.StatusBadRequest, 132001, fmt.Sprintf("template name (%s) does not exist in %s", name, code))
	}
	if want := placeholderCount(tpl.bodyText()); bodyParams != want {
		return nil, newGraphError(http.StatusBadRequest, 132000,
			fmt.Sprintf("body: number of localizable_params (%d) does not match the expected number of params (%d)", bodyParams, want))
	}
	return tpl, nil
}

func validateTemplateParam(prm any, path string) *graphError {
	pm, ok := prm.(map[string]any)
	if !ok {
		return invalidParam("Param %s must be a JSON object", path)
	}
	typ, gerr := requiredString(pm, "type", path+"['type']")
	if gerr != nil {
		return gerr
	}
	if !templateParamTypes[typ] {
		return invalidParam("Param %s['type'] is not a valid parameter type", path)
	}
	if typ == "text" {
		if _, gerr := requiredString(pm, "text", path+"['text']"); gerr != nil {
			return gerr
		}
	}
	return nil
}

func validateInteractive(body map[string]any) *graphError {
	it, gerr := requiredObject(body, "interactive", "interactive")
	if gerr != nil {
		return gerr
	}
	kind, gerr := requiredString(it, "type", "interactive['type']")
	if gerr != nil {
		return gerr
	}
	if kind != "button" && kind != "list" {
		return invalidParam("Param interactive['type'] must be one of {button, list}")
	}
	if gerr := validateInteractiveHeader(it, kind); gerr != nil {
		return gerr
	}
	b, gerr := requiredObject(it, "body", "interactive['body']")
	if gerr != nil {
		return gerr
	}
	if gerr := requiredText(b, "text", "interactive['body']['text']", 1024); gerr != nil {
		return gerr
	}
	if footer, present, gerr := field[map[string]any](it, "footer", "interactive['footer']"); gerr != nil {
		return gerr
	} else if present {
		if gerr := requiredText(footer, "text", "interactive['footer']['text']", 60); gerr != nil {
			return gerr
		}
	}
	action, gerr := requiredObject(it, "action", "interactive['action']")
	if gerr != nil {
		return gerr
	}
	if kind == "button" {
		return validateReplyButtons(action)
	}
	return validateList(action)
}

func validateInteractiveHeader(it map[string]any, kind string) *graphError {
	h, present, gerr := field[map[string]any](it, "header", "interactive['header']")
	if gerr != nil || !present {
		return gerr
	}
	typ, gerr := requiredString(h, "type", "interactive['header']['type']")
	if gerr != nil {
		return gerr
	}
	switch {
	case typ == "text":
		return requiredText(h, "text", "interactive['header']['text']", 60)
	case kind == "button" && (typ == "image" || typ == "video" || typ == "document"):
		_, gerr := requiredObject(h, typ, "interactive['header']['"+typ+"']")
		return gerr
	default:
		return invalidParam("Param interactive['header']['type'] is not supported for %s messages", kind)
	}
}

func validateReplyButtons(action map[string]any) *graphError {
	buttons, _, gerr := field[[]any](action, "buttons", "interactive['action']['buttons']")
	if gerr != nil {
		return gerr
	}
	if len(buttons) < 1 || len(buttons) > 3 {
		return invalidParam("Param interactive['action']['buttons'] must have 1 to 3 buttons")
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		path := fmt.Sprintf("interactive['action']['buttons'][%d]", i)
		bm, ok := b.(map[string]any)
		if !ok {
			return invalidParam("Param %s must be a JSON object", path)
		}
		if typ, _, _ := field[string](bm, "type", path+"['type']"); typ != "reply" {
			return invalidParam("Param %s['type'] must be 'reply'", path)
		}
		reply, gerr := requiredObject(bm, "reply", path+"['reply']")
		if gerr != nil {
			return gerr
		}
		if gerr := requiredText(reply, "id", path+"['reply']['id']", 256); gerr != nil {
			return gerr
		}
		if gerr := requiredText(reply, "title", path+"['reply']['title']", 20); gerr != nil {
			return gerr
		}
		id, title := reply["id"].(string), reply["title"].(string)
		if ids[id] || titles[title] {
			return invalidParam("Param %s['reply'] duplicates the id or title of another button", path)
		}
		ids[id], titles[title] = true, true
	}
	return nil
}

func validateList(action map[string]any) *graphError {
	if gerr := requiredText(action, "button", "interactive['action']['button']", 20); gerr != nil {
		return gerr
	}
	sections, _, gerr := field[[]any](action, "sections", "interactive['action']['sections']")
	if gerr != nil {
		return gerr
	}
	if len(sections) < 1 || len(sections) > 10 {
		return invalidParam("Param interactive['action']['sections'] must have 1 to 10 sections")
	}
	rows, ids := 0, map[string]bool{}
	for i, sec := range sections {
		path := fmt.Sprintf("interactive['action']['sections'][%d]", i)
		sm, ok := sec.(map[string]any)
		if !ok {
			return invalidParam("Param %s must be a JSON object", path)
		}
		if title, present, gerr := field[string](sm, "title", path+"['title']"); gerr != nil {
			return gerr
		} else if (len(sections) > 1 || present) && (title == "" || utf8.RuneCountInString(title) > 24) {
			return invalidParam("Param %s['title'] must be 1 to 24 characters long", path)
		}
		list, _, gerr := field[[]any](sm, "rows", path+"['rows']")
		if gerr != nil {
			return gerr
		}
		if len(list) == 0 {
			return invalidParam("Param %s['rows'] must be a non-empty array", path)
		}
		for j, row := range list {
			rpath := fmt.Sprintf("%s['rows'][%d]", path, j)
			rm, ok := row.(map[string]any)
			if !ok {
				return invalidParam("Param %s must be a JSON object", rpath)
			}
			if gerr := requiredText(rm, "id", rpath+"['id']", 200); gerr != nil {
				return gerr
			}
			if gerr := requiredText(rm, "title", rpath+"['title']", 24); gerr != nil {
				return gerr
			}
			if d, _, gerr := field[string](rm, "description", rpath+"['description']"); gerr != nil {
				return gerr
			} else if utf8.RuneCountInString(d) > 72 {
				return invalidParam("Param %s['description'] must be at most 72 characters long", rpath)
			}
			id := rm["id"].(string)
			if ids[id] {
				return invalidParam("Param %s['id'] duplicates another row id", rpath)
			}
			ids[id] = true
			rows++
		}
	}
	if rows > 10 {
		return invalidParam("Param interactive['action']['sections'] must have at most 10 rows in total")
	}
	return nil
}

// field reads m[key] as T; present is false when the key is absent or null.
func field[T any](m map[string]any, key, path string) (v T, present bool, gerr *graphError) {
	raw, ok := m[key]
	if !ok || raw == nil {
		return v, false, nil
	}
	v, ok = raw.(T)
	if !ok {
		return v, true, invalidParam("Param %s must be %s", path, kindName(v))
	}
	return v, true, nil
}

func kindName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case []any:
		return "an array"
	default:
		return "a JSON object"
	}
}

func requiredString(m map[string]any, key, path string) (string, *graphError) {
	v, _, gerr := field[string](m, key, path)
	if gerr != nil {
		return "", gerr
	}
	if v == "" {
		return "", invalidParam("Param %s is required", path)
	}
	return v, nil
}

func requiredText(m map[string]any, key, path string, maxRunes int) *graphError {
	v, gerr := requiredString(m, key, path)
	if gerr != nil {
		return gerr
	}
	if utf8.RuneCountInString(v) > maxRunes {
		return invalidParam("Param %s must be at most %d characters long", path, maxRunes)
	}
	return nil
}

func requiredObject(m map[string]any, key, path string) (map[string]any, *graphError) {
	v, present, gerr := field[map[string]any](m, key, path)
	if gerr != nil {
		return nil, gerr
	}
	if !present {
		return nil, invalidParam("Param %s is required", path)
	}
	return v, nil
}
