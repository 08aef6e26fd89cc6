package whatsapp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
)

// Contacts implements core.Provider: the address book whatsmeow keeps for the account (push
// names from messages, names from the phone's app state, numbers and LIDs), loaded on first use
// and cached until a contact change arrives or SyncContacts runs. A session without credentials
// (logged out) has none.
func (p *Provider) Contacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	s, err := p.get(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cached := s.contacts
	s.mu.Unlock()
	if cached != nil {
		return slices.Clone(cached), nil
	}
	list, err := s.loadContacts(ctx, nil)
	if err != nil {
		return nil, err
	}
	return slices.Clone(list), nil
}

// SyncContacts implements core.Provider: every known contact is re-resolved with IsOnWhatsApp
// and its profile (LID, status) refreshed with a user-info query, then the cache is replaced.
func (p *Provider) SyncContacts(ctx context.Context, id core.SessionID) ([]core.Contact, error) {
	s, err := p.get(id)
	if err != nil {
		return nil, err
	}
	cli, err := s.loggedIn()
	if err != nil {
		return nil, err
	}
	all, err := cli.Store.Contacts.GetAllContacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("sync contacts of %s: %w", id, err)
	}
	var queries []string
	for j := range all {
		if j.Server == types.DefaultUserServer {
			queries = append(queries, "+"+j.User)
		}
	}
	onWA := map[types.JID]bool{}
	var found []types.JID
	if len(queries) > 0 {
		res, err := cli.IsOnWhatsApp(ctx, queries)
		if err != nil {
			return nil, sendError("sync contacts", err)
		}
		for _, r := range res {
			j := types.NewJID(strings.TrimPrefix(r.Query, "+"), types.DefaultUserServer)
			onWA[j] = r.IsIn
			if r.IsIn {
				found = append(found, r.JID.ToNonAD())
			}
		}
	}
	if len(found) > 0 {
		infos, err := cli.GetUserInfo(ctx, found)
		if err != nil {
			return nil, sendError("sync contacts", err)
		}
		for j, info := range infos {
			if !info.LID.IsEmpty() {
				cli.StoreLIDPNMapping(ctx, info.LID.ToNonAD(), j.ToNonAD())
			}
		}
	}
	list, err := s.loadContacts(ctx, onWA)
	if err != nil {
		return nil, err
	}
	return slices.Clone(list), nil
}

// loadContacts reads the contact store and caches the result. onWA, when given, carries fresh
// IsOnWhatsApp answers; otherwise a contact with a phone-number JID counts as on WhatsApp (the
// store only learns users from WhatsApp itself).
func (s *session) loadContacts(ctx context.Context, onWA map[types.JID]bool) ([]core.Contact, error) {
	cli := s.client()
	if cli == nil || cli.Store.ID == nil {
		return []core.Contact{}, nil
	}
	all, err := cli.Store.Contacts.GetAllContacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load contacts of %s: %w", s.id, err)
	}
	pns := make([]types.JID, 0, len(all))
	for j := range all {
		if j.Server == types.DefaultUserServer {
			pns = append(pns, j)
		}
	}
	lids, err := cli.Store.LIDs.GetManyLIDsForPNs(ctx, pns)
	if err != nil {
		return nil, fmt.Errorf("load contact LIDs of %s: %w", s.id, err)
	}
	now := time.Now().UTC()
	out := make([]core.Contact, 0, len(all))
	for j, info := range all {
		c := core.Contact{ID: chatID(j), PushName: info.PushName, Name: info.FullName, UpdatedAt: now}
		if c.Name == "" {
			c.Name = info.BusinessName
		}
		switch j.Server {
		case types.DefaultUserServer:
			c.Phone = j.User
			c.LID = chatID(lids[j])
			c.OnWhatsApp = true
			if v, ok := onWA[j]; ok {
				c.OnWhatsApp = v
			}
		case types.HiddenUserServer:
			c.LID = c.ID
			if pn, err := cli.Store.LIDs.GetPNForLID(ctx, j); err == nil && !pn.IsEmpty() {
				c.ID, c.Phone = chatID(pn), pn.User
			}
			c.OnWhatsApp = true
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b core.Contact) int { return strings.Compare(string(a.ID), string(b.ID)) })
	out = slices.CompactFunc(out, func(a, b core.Contact) bool { return a.ID == b.ID })
	s.mu.Lock()
	s.contacts = out
	s.mu.Unlock()
	return out, nil
}
