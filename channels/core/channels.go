package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ChannelsGroup is the fx value group channel modules put their core.Provider in; the core
// builds its Channels from it (each binary includes the channel modules it runs).
const ChannelsGroup = `group:"channels"`

// SessionChannels tells which channel a session was created on (the core's session registry).
type SessionChannels interface {
	// SessionChannel returns the session's channel, or an error wrapping ErrNotFound.
	SessionChannel(ctx context.Context, id SessionID) (Channel, error)
}

// Channels is the providers a process runs, by channel name: every session-scoped operation goes
// to the provider of the session's channel. Safe for concurrent use.
type Channels struct {
	providers []Provider // ordered by channel name
	def       Channel
	byName    map[Channel]Provider
	sessions  SessionChannels

	// known caches each session's channel: it never changes, and the send path asks for it on
	// every message.
	known sync.Map // SessionID → Channel
}

// NewChannels registers providers (at least one, names unique); sessions resolves a session's
// channel, and def is the channel of sessions created without one (empty: the first by name).
func NewChannels(sessions SessionChannels, def Channel, providers ...Provider) (*Channels, error) {
	if len(providers) == 0 {
		return nil, errors.New("channels: no provider")
	}
	providers = slices.Clone(providers)
	slices.SortFunc(providers, func(a, b Provider) int { return strings.Compare(string(a.Info().Channel), string(b.Info().Channel)) })
	c := &Channels{providers: providers, byName: make(map[Channel]Provider, len(providers)), sessions: sessions}
	for _, p := range providers {
		name := p.Info().Channel
		if name == "" {
			return nil, errors.New("channels: a provider has no channel name")
		}
		if _, dup := c.byName[name]; dup {
			return nil, fmt.Errorf("channels: %q registered twice", name)
		}
		c.byName[name] = p
	}
	if def == "" {
		def = providers[0].Info().Channel
	}
	if _, ok := c.byName[def]; !ok {
		return nil, fmt.Errorf("channels: default channel %q is not registered", def)
	}
	c.def = def
	return c, nil
}

// Default is the channel of sessions created without naming one.
func (c *Channels) Default() Channel { return c.def }

// All returns every provider, ordered by channel name.
func (c *Channels) All() []Provider { return slices.Clone(c.providers) }

// Names lists the channels, ordered by name.
func (c *Channels) Names() []Channel {
	names := make([]Channel, len(c.providers))
	for i, p := range c.providers {
		names[i] = p.Info().Channel
	}
	return names
}

// Get returns the provider of a channel; ErrInvalid when this process runs no such channel.
func (c *Channels) Get(name Channel) (Provider, error) {
	if p, ok := c.byName[name]; ok {
		return p, nil
	}
	names := make([]string, 0, len(c.providers))
	for _, n := range c.Names() {
		names = append(names, string(n))
	}
	return nil, fmt.Errorf("unknown channel %q (this gateway runs %s): %w", name, strings.Join(names, ", "), ErrInvalid)
}

// For returns the provider of a session's channel. A session the registry does not know (one
// created before it recorded channels, or one of a remote gateway) belongs to the provider that
// knows it; none knowing it is ErrNotFound.
func (c *Channels) For(ctx context.Context, id SessionID) (Provider, error) {
	if name, ok := c.known.Load(id); ok {
		return c.Get(name.(Channel))
	}
	name, err := c.sessions.SessionChannel(ctx, id)
	if err == nil {
		c.known.Store(id, name)
		return c.Get(name)
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("channel of session %s: %w", id, err)
	}
	if len(c.providers) == 1 {
		// The only channel answers for it, ErrNotFound included.
		return c.providers[0], nil
	}
	for _, p := range c.providers {
		if _, err := p.Session(ctx, id); err == nil {
			c.known.Store(id, p.Info().Channel)
			return p, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("look for session %s on %s: %w", id, p.Info().Channel, err)
		}
	}
	return nil, fmt.Errorf("session %s: %w", id, ErrNotFound)
}

// Forget drops what the registry remembers of a deleted session.
func (c *Channels) Forget(id SessionID) { c.known.Delete(id) }

// Sessions lists the sessions of every channel, ordered by id.
func (c *Channels) Sessions(ctx context.Context) ([]Session, error) {
	var all []Session
	for _, p := range c.providers {
		ss, err := p.Sessions(ctx)
		if err != nil {
			return nil, fmt.Errorf("sessions of %s: %w", p.Info().Channel, err)
		}
		all = append(all, ss...)
	}
	slices.SortFunc(all, func(a, b Session) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return all, nil
}

// Stats adds up the session counts of every channel.
func (c *Channels) Stats(ctx context.Context) (SessionStats, error) {
	var total SessionStats
	for _, p := range c.providers {
		s, err := p.Stats(ctx)
		if err != nil {
			return SessionStats{}, fmt.Errorf("stats of %s: %w", p.Info().Channel, err)
		}
		total.Total += s.Total
		total.Active += s.Active
		total.Connected += s.Connected
		total.QRPending += s.QRPending
		total.Disconnected += s.Disconnected
	}
	return total, nil
}
