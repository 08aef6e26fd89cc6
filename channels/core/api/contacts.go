package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/28web/hub/channels/core"
	"github.com/28web/hub/platform/httpserver"
)

// ContactList is a session's contacts.
type ContactList struct {
	Contacts []core.Contact `json:"contacts"`
}

type contactsOutput struct {
	Body ContactList
}

func (h *Handlers) registerContacts(api huma.API) {
	huma.Register(api, withErrors(op("listContacts", http.MethodGet, "/sessions/{id}/contacts", tagContacts, "List contacts",
		"The session's contacts: push names, numbers, LIDs, whether they are on WhatsApp. Loaded lazily and cached by the channel. 501 on a channel without contacts.", 0), notFound, notImplemented),
		httpserver.Handle(h.Errors, h.listContacts))
	huma.Register(api, withErrors(op("syncContacts", http.MethodPost, "/sessions/{id}/contacts/sync", tagContacts, "Sync contacts",
		"Refreshes the contacts from the network (re-resolves numbers, refreshes profile info), stores and returns them. 501 on a channel without contacts.", 0), notFound, conflict, notImplemented),
		httpserver.Handle(h.Errors, h.syncContacts))
}

func (h *Handlers) listContacts(ctx context.Context, in *SessionPath) (*contactsOutput, error) {
	book, err := capability[core.ContactBook](ctx, h.Channels, in.ID, core.CapabilityContacts)
	if err != nil {
		return nil, err
	}
	cs, err := book.Contacts(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return contactsBody(cs), nil
}

func (h *Handlers) syncContacts(ctx context.Context, in *SessionPath) (*contactsOutput, error) {
	book, err := capability[core.ContactBook](ctx, h.Channels, in.ID, core.CapabilityContacts)
	if err != nil {
		return nil, err
	}
	cs, err := book.SyncContacts(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if err := h.Store.UpsertContacts(ctx, in.ID, cs); err != nil {
		return nil, err
	}
	return contactsBody(cs), nil
}

func contactsBody(cs []core.Contact) *contactsOutput {
	out := &contactsOutput{}
	out.Body.Contacts = cs
	if out.Body.Contacts == nil {
		out.Body.Contacts = []core.Contact{}
	}
	return out
}
