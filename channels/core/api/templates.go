package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

const tagTemplates = "Templates"

// Template is a message template of a session, as its channel reviewed it.
type Template struct {
	ID         string              `json:"id" doc:"The channel's id of the template." example:"1048576"`
	Name       string              `json:"name" example:"order_update"`
	Language   string              `json:"language" example:"pt_BR"`
	Category   string              `json:"category" enum:"MARKETING,UTILITY,AUTHENTICATION"`
	Status     string              `json:"status" doc:"The review state; only APPROVED templates can be sent." example:"APPROVED"`
	Components []TemplateComponent `json:"components"`
}

// TemplateComponent is one part of a template.
type TemplateComponent struct {
	Type    string           `json:"type" enum:"header,body,footer,buttons"`
	Format  string           `json:"format,omitempty" enum:"text,image,video,document,location" doc:"A header's kind."`
	Text    string           `json:"text,omitempty" maxLength:"1024" doc:"The text, with {{1}}, {{2}}… placeholders." example:"Hello {{1}}, your order {{2}} is on its way."`
	Buttons []TemplateButton `json:"buttons,omitempty" maxItems:"10"`
}

// TemplateButton is one button of a template.
type TemplateButton struct {
	Type        string `json:"type" enum:"quick_reply,url,phone_number"`
	Text        string `json:"text" minLength:"1" maxLength:"25" example:"Track"`
	URL         string `json:"url,omitempty" maxLength:"2000" example:"https://example.com/track/{{1}}"`
	PhoneNumber string `json:"phoneNumber,omitempty" maxLength:"20" example:"+5511999990001"`
}

// CreateTemplateRequest submits a template for review.
type CreateTemplateRequest struct {
	Name       string              `json:"name" minLength:"1" maxLength:"512" pattern:"^[a-z0-9_]+$" doc:"Lower-case letters, digits and underscores." example:"order_update"`
	Language   string              `json:"language" minLength:"2" maxLength:"15" pattern:"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$" example:"pt_BR"`
	Category   string              `json:"category" enum:"MARKETING,UTILITY,AUTHENTICATION"`
	Components []TemplateComponent `json:"components" minItems:"1" maxItems:"4" doc:"A body is required; header, footer and buttons are optional."`
}

// Resolve checks what the schema cannot: one body.
func (r *CreateTemplateRequest) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	bodies := 0
	for _, c := range r.Components {
		if c.Type == core.TemplateBody {
			bodies++
			if c.Text == "" {
				return []error{&huma.ErrorDetail{Location: prefix.With("components"), Message: "the body needs text"}}
			}
		}
	}
	if bodies != 1 {
		return []error{&huma.ErrorDetail{Location: prefix.With("components"), Message: "a template has exactly one body", Value: bodies}}
	}
	return nil
}

// TemplateList is a session's templates.
type TemplateList struct {
	Templates []Template `json:"templates"`
}

type templatesOutput struct {
	Body TemplateList
}

type templateOutput struct {
	Body Template
}

type createTemplateInput struct {
	SessionPath
	Body CreateTemplateRequest
}

type templatePath struct {
	SessionPath
	Name string `path:"name" maxLength:"512" pattern:"^[a-z0-9_]+$" doc:"The template's name." example:"order_update"`
}

func (h *Handlers) registerTemplates(api huma.API) {
	huma.Register(api, withErrors(op("listTemplates", http.MethodGet, "/sessions/{id}/templates", tagTemplates, "List message templates",
		"The session's message templates with their review status (cached by the channel for a few minutes). 501 on a channel without templates.", 0),
		notFound, notImplemented), httpserver.Handle(h.Errors, h.listTemplates))
	huma.Register(api, withErrors(op("createTemplate", http.MethodPost, "/sessions/{id}/templates", tagTemplates, "Submit a message template",
		"Submits a template for the network's review; it can be sent once its status is APPROVED. 409 if the name exists in that language.", http.StatusCreated),
		notFound, conflict, notImplemented), httpserver.Handle(h.Errors, h.createTemplate))
	huma.Register(api, withErrors(op("deleteTemplate", http.MethodDelete, "/sessions/{id}/templates/{name}", tagTemplates, "Delete a message template",
		"Deletes every language of the named template.", http.StatusNoContent),
		notFound, notImplemented), httpserver.Handle(h.Errors, h.deleteTemplate))
}

func (h *Handlers) listTemplates(ctx context.Context, in *SessionPath) (*templatesOutput, error) {
	tm, err := capability[core.TemplateManager](ctx, h.Channels, in.ID, core.CapabilityTemplates)
	if err != nil {
		return nil, err
	}
	ts, err := tm.Templates(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	out := &templatesOutput{}
	out.Body.Templates = make([]Template, 0, len(ts))
	for _, t := range ts {
		out.Body.Templates = append(out.Body.Templates, templateView(t))
	}
	return out, nil
}

func (h *Handlers) createTemplate(ctx context.Context, in *createTemplateInput) (*templateOutput, error) {
	tm, err := capability[core.TemplateManager](ctx, h.Channels, in.ID, core.CapabilityTemplates)
	if err != nil {
		return nil, err
	}
	def := core.Template{Name: in.Body.Name, Language: in.Body.Language, Category: in.Body.Category}
	for _, c := range in.Body.Components {
		comp := core.TemplateComponent{Type: c.Type, Format: c.Format, Text: c.Text}
		for _, b := range c.Buttons {
			comp.Buttons = append(comp.Buttons, core.TemplateButtonDefinition{Type: b.Type, Text: b.Text, URL: b.URL, PhoneNumber: b.PhoneNumber})
		}
		def.Components = append(def.Components, comp)
	}
	t, err := tm.CreateTemplate(ctx, in.ID, def)
	if err != nil {
		return nil, err
	}
	return &templateOutput{Body: templateView(t)}, nil
}

func (h *Handlers) deleteTemplate(ctx context.Context, in *templatePath) (*emptyOutput, error) {
	tm, err := capability[core.TemplateManager](ctx, h.Channels, in.ID, core.CapabilityTemplates)
	if err != nil {
		return nil, err
	}
	if err := tm.DeleteTemplate(ctx, in.ID, in.Name); err != nil {
		return nil, err
	}
	return &emptyOutput{}, nil
}

func templateView(t core.Template) Template {
	v := Template{ID: t.ID, Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status, Components: []TemplateComponent{}}
	for _, c := range t.Components {
		comp := TemplateComponent{Type: c.Type, Format: c.Format, Text: c.Text}
		for _, b := range c.Buttons {
			comp.Buttons = append(comp.Buttons, TemplateButton{Type: b.Type, Text: b.Text, URL: b.URL, PhoneNumber: b.PhoneNumber})
		}
		v.Components = append(v.Components, comp)
	}
	return v
}
