package whatsappcloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/28web/hub/channels/core"
)

// subcodeTemplateExists is the Graph API's "content in this language already exists".
const subcodeTemplateExists = 2388024

// templateCache keeps each session's template list for Config.TemplateCacheTTL.
type templateCache struct {
	mu      sync.Mutex
	entries map[core.SessionID]cachedTemplates
}

type cachedTemplates struct {
	at   time.Time
	list []core.Template
}

func (c *templateCache) get(id core.SessionID, ttl time.Duration, now time.Time) ([]core.Template, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.at) > ttl {
		return nil, false
	}
	return e.list, true
}

func (c *templateCache) put(id core.SessionID, list []core.Template, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[core.SessionID]cachedTemplates{}
	}
	c.entries[id] = cachedTemplates{at: now, list: list}
}

func (c *templateCache) forget(id core.SessionID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// Templates lists the session's templates, from cache when fresh.
func (p *Provider) Templates(ctx context.Context, id core.SessionID) ([]core.Template, error) {
	s, err := p.session(id)
	if err != nil {
		return nil, err
	}
	if list, ok := p.templates.get(id, p.cfg.TemplateCacheTTL, p.now()); ok {
		return list, nil
	}
	return p.refreshTemplates(ctx, s)
}

func (p *Provider) refreshTemplates(ctx context.Context, s *session) ([]core.Template, error) {
	raw, err := p.graph.templates(ctx, s.token, s.wabaID)
	if err != nil {
		p.noteAuthFailure(ctx, s, err)
		return nil, fmt.Errorf("list templates: %w", err)
	}
	list := make([]core.Template, 0, len(raw))
	for _, t := range raw {
		list = append(list, templateFromGraph(t))
	}
	p.templates.put(s.id, list, p.now())
	return list, nil
}

// CreateTemplate submits a template for review.
func (p *Provider) CreateTemplate(ctx context.Context, id core.SessionID, t core.Template) (core.Template, error) {
	s, err := p.session(id)
	if err != nil {
		return core.Template{}, err
	}
	g := graphTemplate{Name: t.Name, Language: t.Language, Category: strings.ToUpper(t.Category)}
	for _, c := range t.Components {
		gc := graphComponent{Type: strings.ToUpper(c.Type), Format: strings.ToUpper(c.Format), Text: c.Text}
		for _, b := range c.Buttons {
			gc.Buttons = append(gc.Buttons, graphButton{Type: strings.ToUpper(b.Type), Text: b.Text, URL: b.URL, PhoneNumber: b.PhoneNumber})
		}
		g.Components = append(g.Components, gc)
	}
	ans, err := p.graph.createTemplate(ctx, s.token, s.wabaID, g)
	p.templates.forget(id)
	if err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && ge.Subcode == subcodeTemplateExists {
			return core.Template{}, fmt.Errorf("template %s (%s) exists: %w", t.Name, t.Language, core.ErrConflict)
		}
		p.noteAuthFailure(ctx, s, err)
		return core.Template{}, fmt.Errorf("create template %s: %w", t.Name, err)
	}
	g.ID, g.Status = ans.ID, ans.Status
	if ans.Category != "" {
		g.Category = ans.Category
	}
	return templateFromGraph(g), nil
}

// DeleteTemplate deletes every language of the named template.
func (p *Provider) DeleteTemplate(ctx context.Context, id core.SessionID, name string) error {
	s, err := p.session(id)
	if err != nil {
		return err
	}
	err = p.graph.deleteTemplate(ctx, s.token, s.wabaID, name)
	p.templates.forget(id)
	if err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && ge.Code == codeInvalidParameter {
			return fmt.Errorf("template %s: %w", name, core.ErrNotFound)
		}
		p.noteAuthFailure(ctx, s, err)
		return fmt.Errorf("delete template %s: %w", name, err)
	}
	return nil
}

func templateFromGraph(g graphTemplate) core.Template {
	t := core.Template{ID: g.ID, Name: g.Name, Language: g.Language, Category: strings.ToUpper(g.Category), Status: strings.ToUpper(g.Status),
		Components: []core.TemplateComponent{}}
	for _, c := range g.Components {
		tc := core.TemplateComponent{Type: strings.ToLower(c.Type), Format: strings.ToLower(c.Format), Text: c.Text}
		for _, b := range c.Buttons {
			tc.Buttons = append(tc.Buttons, core.TemplateButtonDefinition{Type: strings.ToLower(b.Type), Text: b.Text, URL: b.URL, PhoneNumber: b.PhoneNumber})
		}
		t.Components = append(t.Components, tc)
	}
	return t
}

var placeholderRe = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

// placeholders counts the distinct {{n}} of a text.
func placeholders(text string) int {
	seen := map[string]bool{}
	for _, m := range placeholderRe.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// checkTemplate validates a template message against the session's template: it exists in that
// language, is approved, and every component gets as many parameters as it has placeholders.
func (p *Provider) checkTemplate(ctx context.Context, s *session, msg *core.TemplateMessage) error {
	find := func(list []core.Template) (core.Template, bool) {
		for _, t := range list {
			if t.Name == msg.Name && strings.EqualFold(t.Language, msg.Language) {
				return t, true
			}
		}
		return core.Template{}, false
	}
	list, err := p.Templates(ctx, s.id)
	if err != nil {
		return err
	}
	t, ok := find(list)
	if !ok || t.Status != core.TemplateApproved {
		// Created or approved since the list was cached?
		if list, err = p.refreshTemplates(ctx, s); err != nil {
			return err
		}
		t, ok = find(list)
	}
	if !ok {
		return fmt.Errorf("%w: session %s has no template %s in language %s", core.ErrInvalid, s.id, msg.Name, msg.Language)
	}
	if t.Status != core.TemplateApproved {
		return fmt.Errorf("%w: template %s (%s) is %s, not APPROVED", core.ErrInvalid, t.Name, t.Language, t.Status)
	}
	given := map[string]int{}
	for _, c := range msg.Components {
		if c.Type != core.TemplateButton {
			given[c.Type] += len(c.Parameters)
		}
	}
	for _, c := range t.Components {
		if c.Type != core.TemplateHeader && c.Type != core.TemplateBody {
			continue
		}
		want := placeholders(c.Text)
		if c.Type == core.TemplateHeader && c.Format != "" && c.Format != "text" {
			want = 1 // a media header takes its media as the one parameter
		}
		if given[c.Type] != want {
			return fmt.Errorf("%w: template %s's %s takes %d parameters, got %d", core.ErrInvalid, t.Name, c.Type, want, given[c.Type])
		}
		delete(given, c.Type)
	}
	for kind, n := range given {
		if n > 0 {
			return fmt.Errorf("%w: template %s has no %s to take %d parameters", core.ErrInvalid, t.Name, kind, n)
		}
	}
	return nil
}
